#include "app/serve.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "app/debug_mode.h"
#include "app/registry_clients.h"
#include "runtime/base/log.h"
#include "runtime/process/spawner.h"
#include "server/actor_server.h"

namespace tether {
namespace {

constexpr absl::Duration kShutdownGrace = absl::Milliseconds(500);
// The longest a stopping actor waits for its tasks: enough for a nursery
// to escalate to SIGKILL (0.5 s + 1.6 s) with room to reap.
constexpr absl::Duration kTeardownLimit = absl::Seconds(3);

}  // namespace

absl::Status Serve(
    ActorCore* runtime, const Address& listen, ShutdownSignal* stop,
    const std::function<void(const Address& bound)>& on_serving) {
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      runtime, listen,
      [stop](const v1::ActorId& requester) {
        stop->Request(absl::StrCat("cancelled by ", requester.name(), "[",
                                   requester.uuid(), "]"));
      },
      RegistryClients::Create());
  if (!server.ok()) return server.status();
  runtime->SetStopHandler(
      [stop](const std::string& reason) { stop->Request(reason); });
  ApplyDebugMode(runtime, stop);
  on_serving((*server)->address());

  const std::string reason = stop->Wait();
  TETHER_LOG(kInfo) << "shutting down: " << reason;
  // Lookups stop finding this actor before it stops answering.
  (*server)->Unregister();
  // Serving tasks end first, so their final frames reach the openers; the
  // server then lets the streams finish within the grace period. A task
  // may be tearing down a nursery of its own, which takes as long as its
  // children's escalation; a second SIGINT/SIGTERM (our supervisor's next
  // escalation step) makes it hurry by killing those children outright.
  runtime->CancelServing(runtime->id());
  const absl::Time give_up = absl::Now() + kTeardownLimit;
  while (!runtime->AwaitServingDone(kShutdownGrace)) {
    if (absl::Now() >= give_up) {
      TETHER_LOG(kError) << "tasks ignored cancellation for " << kTeardownLimit
                         << "; exiting without them";
      _exit(1);
    }
    if (stop->WaitForAnother(absl::ZeroDuration())) {
      TETHER_LOG(kWarning) << "told to hurry: killing child actors";
      Spawner::Get().KillAllChildren();
    }
  }
  (*server)->Shutdown(kShutdownGrace);
  return absl::OkStatus();
}

}  // namespace tether
