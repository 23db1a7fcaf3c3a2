#include "server/serve.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "runtime/log.h"
#include "server/actor_server.h"

namespace tether {
namespace {

constexpr absl::Duration kShutdownGrace = absl::Milliseconds(500);

}  // namespace

absl::Status Serve(
    ActorRuntime* runtime, const Address& listen, ShutdownSignal* stop,
    const std::function<void(const Address& bound)>& on_serving) {
  absl::StatusOr<std::unique_ptr<ActorServer>> server =
      ActorServer::Start(runtime, listen, [stop](const v1::ActorId& requester) {
        stop->Request(absl::StrCat("cancelled by ", requester.name(), "[",
                                   requester.uuid(), "]"));
      });
  if (!server.ok()) return server.status();
  on_serving((*server)->address());

  const std::string reason = stop->Wait();
  TETHER_LOG(kInfo) << "shutting down: " << reason;
  // Serving tasks end first, so their final frames reach the openers; the
  // server then lets the streams finish within the grace period.
  runtime->CancelServing(runtime->id());
  if (!runtime->AwaitServingDone(kShutdownGrace)) {
    TETHER_LOG(kError) << "tasks ignored cancellation for " << kShutdownGrace
                       << "; exiting without them";
    _exit(1);
  }
  (*server)->Shutdown(kShutdownGrace);
  return absl::OkStatus();
}

}  // namespace tether
