// Quickstart: one actor and one client in a single program.
//
//   bazel run //examples:quickstart
//
// Starts an actor on a free loopback port, then, as a client, asks it who it
// is (Actor/Info) and asks it to cancel itself (Actor/Cancel), naming the
// client as the canceller. Exits 0 when every round trip succeeded.

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/actor_client.h"
#include "runtime/actor_identity.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "runtime/status_macros.h"
#include "server/actor_server.h"
#include "server/shutdown_signal.h"

namespace {

constexpr absl::Duration kTimeout = absl::Seconds(5);

absl::Status Run() {
  // Blocks SIGINT/SIGTERM before gRPC starts threads; the actor stops on
  // either, or when it is cancelled below.
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<tether::ShutdownSignal> stop,
                          tether::ShutdownSignal::Install());
  TETHER_ASSIGN_OR_RETURN(tether::ActorIdentity actor,
                          tether::ActorIdentity::Create("quickstart"));
  TETHER_ASSIGN_OR_RETURN(tether::ActorIdentity me,
                          tether::ActorIdentity::Create("client"));
  TETHER_ASSIGN_OR_RETURN(tether::Address listen,
                          tether::Address::Parse("127.0.0.1:0"));

  tether::ActorRuntime runtime(actor);
  tether::ShutdownSignal* stop_signal = stop.get();
  TETHER_ASSIGN_OR_RETURN(
      std::unique_ptr<tether::ActorServer> server,
      tether::ActorServer::Start(
          &runtime, listen,
          [stop_signal](const tether::v1::ActorId& requester) {
            stop_signal->Request(absl::StrCat("cancelled by ", requester.name(),
                                              "[", requester.uuid(), "]"));
          }));
  std::printf("tether: actor %s listening on %s\n", actor.name.c_str(),
              server->address().ToString().c_str());

  const tether::ActorClient client =
      tether::ActorClient::Dial(server->address());
  const absl::Time sent = absl::Now();
  TETHER_ASSIGN_OR_RETURN(tether::v1::ActorInfo info, client.Info(kTimeout));
  std::printf("round trip: Info answered by %s[%s] pid %lld in %.2f ms\n",
              info.id().name().c_str(), info.id().uuid().c_str(),
              static_cast<long long>(info.pid()),
              absl::ToDoubleMilliseconds(absl::Now() - sent));

  TETHER_ASSIGN_OR_RETURN(tether::v1::ActorId accepted,
                          client.CancelActor(me.ToProto(), kTimeout));
  std::printf("round trip: Cancel accepted by %s[%s]\n",
              accepted.name().c_str(), accepted.uuid().c_str());

  const std::string reason = stop->Wait();
  server->Shutdown(absl::Milliseconds(500));
  std::printf("actor %s stopped: %s\n", actor.name.c_str(), reason.c_str());
  return absl::OkStatus();
}

}  // namespace

int main() {
  const absl::Status status = Run();
  if (!status.ok()) {
    std::fprintf(stderr, "quickstart failed: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  std::printf("quickstart: ok\n");
  return 0;
}
