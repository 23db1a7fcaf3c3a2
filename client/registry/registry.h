// File: client/registry/registry.h
//
// A client of one registry: the tether.v1.Registrar a root actor embeds
// (address "host:port" or "unix:/path") or an etcd cluster member
// ("etcd://host:port").
//
//   absl::StatusOr<std::unique_ptr<Registry>> registry =
//       ConnectRegistry("127.0.0.1:41234", runtime.token());
//   auto found = (*registry)->Find("worker", absl::Now() + absl::Seconds(1));
//   // found->front() is the newest entry named "worker"
//
// Names are not unique; lookups return entries newest first (the order in
// which the registry accepted them). Every lookup is a cancellation point of
// the calling task and ends by `deadline`. Errors name the registry:
// UNAVAILABLE when it cannot be reached, DEADLINE_EXCEEDED when the deadline
// passes, INVALID_ARGUMENT for an entry the registry refuses. Thread-safe.

#ifndef TETHER_CLIENT_REGISTRY_REGISTRY_H_
#define TETHER_CLIENT_REGISTRY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runtime/base/tree_token.h"
#include "tether/v1/registrar.pb.h"

namespace tether {

class Registry {
 public:
  // An entry kept registered while this object lives: a Hold call on the
  // embedded registrar, a lease kept alive on etcd. Destroying it
  // unregisters the entry. If the process dies instead, the registry drops
  // the entry by itself (the call breaks, the lease expires).
  class Registration {
   public:
    virtual ~Registration() = default;
  };

  virtual ~Registry() = default;

  // The address this registry was connected with.
  virtual const std::string& address() const = 0;

  // Registers `entry` and keeps it registered. Waits for the registry's
  // confirmation until `deadline` (not a cancellation point: actors
  // register while they start and stop). The registry must outlive the
  // registration.
  virtual absl::StatusOr<std::unique_ptr<Registration>> Hold(
      const v1::RegistryEntry& entry, absl::Time deadline) = 0;

  // Removes the entry of `uuid`; false when there was none.
  virtual absl::StatusOr<bool> Unregister(const std::string& uuid,
                                          absl::string_view reason,
                                          absl::Time deadline) = 0;

  // Entries named `name`, newest first; empty when none.
  virtual absl::StatusOr<std::vector<v1::RegistryEntry>> Find(
      const std::string& name, absl::Time deadline) = 0;

  // Like Find, but waits until `name` has an entry.
  virtual absl::StatusOr<std::vector<v1::RegistryEntry>> Wait(
      const std::string& name, absl::Time deadline) = 0;

  // Every entry, by name, then newest first.
  virtual absl::StatusOr<std::vector<v1::RegistryEntry>> List(
      absl::Time deadline) = 0;
};

// OK when `address` is a registry's: "host:port", "unix:/path" or
// "etcd://host:port"; InvalidArgument naming it otherwise.
absl::Status CheckRegistryAddress(absl::string_view address);

// A client of the registry at `address`; connects lazily. Calls to a
// Registrar carry `token`, its tree's (etcd has credentials of its own).
// Errors: a malformed address (INVALID_ARGUMENT, one line naming it).
absl::StatusOr<std::unique_ptr<Registry>> ConnectRegistry(
    absl::string_view address, const TreeToken& token);

}  // namespace tether

#endif  // TETHER_CLIENT_REGISTRY_REGISTRY_H_
