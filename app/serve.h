// File: app/serve.h
//
// The life of an actor process around its server: serve `runtime` on
// `listen` until SIGINT, SIGTERM or Actor/Cancel, then stop its tasks and
// the server in order. Shared by actor nodes, spawned children and roots.
//
//   absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
//       ShutdownSignal::Install();          // first, before gRPC threads
//   ActorCore runtime(identity);
//   absl::Status served = Serve(&runtime, listen, stop->get(),
//                               [](const Address& bound) { ... });

#ifndef TETHER_APP_SERVE_H_
#define TETHER_APP_SERVE_H_

#include <functional>

#include "absl/status/status.h"
#include "runtime/actor/actor_core.h"
#include "runtime/process/shutdown_signal.h"
#include "tether/address.h"

namespace tether {

// Serves until `stop` fires; `on_serving` runs once the server is bound.
// On stop: every serving task is cancelled (canceller: this actor, or the
// requester of Actor/Cancel) and may take up to 3 s to end (long enough for
// a nursery it runs to escalate its children to SIGKILL); a second SIGINT or
// SIGTERM meanwhile kills this actor's children outright. Then the server
// stops. Tasks still running after 3 s end the process at once (_exit)
// rather than keep it alive. Errors: the server could not start.
absl::Status Serve(ActorCore* runtime, const Address& listen,
                   ShutdownSignal* stop,
                   const std::function<void(const Address& bound)>& on_serving);

}  // namespace tether

#endif  // TETHER_APP_SERVE_H_
