#include "server/node_main.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/actor_identity.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "runtime/log.h"
#include "server/actor_server.h"
#include "server/grpc_log.h"
#include "server/shutdown_signal.h"

ABSL_FLAG(std::string, name, "actor", "Actor name: letters, digits, . _ -");
ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "Address to serve on: host:port (port 0 picks a free port) or "
          "unix:/path");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");

namespace tether {
namespace {

constexpr int kExitUsage = 2;
constexpr absl::Duration kShutdownGrace = absl::Milliseconds(500);

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "actor_node: error: %s\n",
               std::string(status.message()).c_str());
  return kExitUsage;
}

int Run(const std::vector<char*>& positional) {
  if (positional.size() > 1) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", positional[1],
                     "' (flags are --name, --listen, --log_level)")));
  }
  absl::StatusOr<LogLevel> level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--log_level: ", level.status().message())));
  }
  SetLogLevel(*level);
  absl::StatusOr<ActorIdentity> identity =
      ActorIdentity::Create(absl::GetFlag(FLAGS_name));
  if (!identity.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--name: ", identity.status().message())));
  }
  absl::StatusOr<Address> listen = Address::Parse(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--listen: ", listen.status().message())));
  }
  SetLogActor(identity->name, identity->uuid);

  // Before gRPC starts threads, so they inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  if (!stop.ok()) return Fail(stop.status());
  RouteGrpcLogsToTetherLog();

  ActorRuntime runtime(*identity);
  ShutdownSignal* stop_signal = stop->get();
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *listen, [stop_signal](const v1::ActorId& requester) {
        stop_signal->Request(absl::StrCat("cancelled by ", requester.name(),
                                          "[", requester.uuid(), "]"));
      });
  if (!server.ok()) return Fail(server.status());

  std::printf("tether: actor %s listening on %s\n", identity->name.c_str(),
              (*server)->address().ToString().c_str());
  std::fflush(stdout);

  const std::string reason = (*stop)->Wait();
  TETHER_LOG(kInfo) << "shutting down: " << reason;
  // Serving tasks end first, so their final frames reach the openers; the
  // server then lets the streams finish within the grace period.
  runtime.CancelServing(runtime.id());
  runtime.AwaitServingDone(kShutdownGrace);
  (*server)->Shutdown(kShutdownGrace);
  return 0;
}

}  // namespace

int ActorNodeMain(int argc, char** argv) {
  absl::InitializeSymbolizer(argv[0]);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
  absl::SetProgramUsageMessage(
      "Runs one Tether actor.\n"
      "  actor_node --name=NAME --listen=HOST:PORT|unix:/PATH");
  return Run(absl::ParseCommandLine(argc, argv));
}

}  // namespace tether
