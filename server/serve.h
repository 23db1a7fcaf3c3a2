// File: server/serve.h
//
// The life of an actor process around its server: serve `runtime` on
// `listen` until SIGINT, SIGTERM or Actor/Cancel, then stop its tasks and
// the server in order. Shared by actor nodes, spawned children and roots.
//
//   absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
//       ShutdownSignal::Install();          // first, before gRPC threads
//   ActorRuntime runtime(identity);
//   absl::Status served = Serve(&runtime, listen, stop->get(),
//                               [](const Address& bound) { ... });

#ifndef TETHER_SERVER_SERVE_H_
#define TETHER_SERVER_SERVE_H_

#include <functional>

#include "absl/status/status.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "server/shutdown_signal.h"

namespace tether {

// Serves until `stop` fires; `on_serving` runs once the server is bound.
// On stop: every serving task is cancelled (canceller: this actor, or the
// requester of Actor/Cancel), gets 0.5 s to end and send its final frame,
// then the server stops. A task that ignores cancellation past that ends
// the process at once (_exit) rather than keep it alive. Errors: the
// server could not start.
absl::Status Serve(ActorRuntime* runtime, const Address& listen,
                   ShutdownSignal* stop,
                   const std::function<void(const Address& bound)>& on_serving);

}  // namespace tether

#endif  // TETHER_SERVER_SERVE_H_
