// File: tether/discovery.h
//
// Finding actors by name through the registries of the local actor (its
// ActorRuntime::registry_addresses(): the root's embedded registrar unless
// the tree was told to use another registry).
//
// clang-format off
// Example:
//
//   // Calls `echo` on the actor registered as "worker", if there is one.
//   absl::Status EchoOnWorker(ActorRuntime& self) {
//     TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Portal> worker,
//                             FindActor(&self, "worker"));
//     if (worker == nullptr) return absl::NotFoundError("no worker");
//     return worker->Run("echo", Value::String("hi")).status();
//   }
//
//   // Waits up to 5 s for "gretchen" to register and answer.
//   absl::StatusOr<std::unique_ptr<Portal>> AwaitGretchen(ActorRuntime& self) {
//     return WaitForActor(&self, "gretchen", absl::Seconds(5));
//   }
// clang-format on
//
// Which actor a lookup returns when several share a name: the newest
// registered one that answers. An entry whose address refuses connections
// (or answers as another actor) is stale: the lookup unregisters it
// ("unreachable") and tries the next; an actor that is only slow to answer
// is skipped but keeps its entry. Registries are asked in order; one
// that cannot be reached is skipped, and if none can, the lookup fails with
// UNAVAILABLE naming them.
//
// Thread-safety: thread-safe. Every call is a cancellation point and
// returns within `timeout` (DEADLINE_EXCEEDED).

#ifndef TETHER_DISCOVERY_H_
#define TETHER_DISCOVERY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/actor_runtime.h"
#include "tether/portal.h"
#include "tether/v1/registrar.pb.h"

namespace tether {

inline constexpr absl::Duration kLookupTimeout = absl::Seconds(3);

// A portal to the actor named `name`, or null when none is registered (or
// none of those registered answers).
absl::StatusOr<std::unique_ptr<Portal>> FindActor(
    ActorRuntime* self, const std::string& name,
    absl::Duration timeout = kLookupTimeout);

// Like FindActor, but waits until an actor named `name` is registered and
// answers. DEADLINE_EXCEEDED when none does within `timeout`.
absl::StatusOr<std::unique_ptr<Portal>> WaitForActor(ActorRuntime* self,
                                                     const std::string& name,
                                                     absl::Duration timeout);

// The registered addresses of the actor FindActor would return; empty
// when none.
absl::StatusOr<std::vector<std::string>> QueryActor(
    ActorRuntime* self, const std::string& name,
    absl::Duration timeout = kLookupTimeout);

// Every entry of the first registry that answers, by name, newest first.
absl::StatusOr<std::vector<v1::RegistryEntry>> GetRegistry(
    ActorRuntime* self, absl::Duration timeout = kLookupTimeout);

}  // namespace tether

#endif  // TETHER_DISCOVERY_H_
