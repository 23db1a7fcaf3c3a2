#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "app/debug_mode.h"
#include "app/registry_clients.h"
#include "app/tree_token_source.h"
#include "rpc/grpc_log.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/crash_report.h"
#include "runtime/base/log.h"
#include "runtime/process/shutdown_signal.h"
#include "server/actor_server.h"
#include "tether/address.h"
#include "tether/errors.h"
#include "tether/main.h"
#include "tether/task.h"

namespace tether {
namespace {

constexpr char kBodyDone[] = "the root's body returned";
constexpr int kExitFailed = 1;
constexpr int kExitInterrupted = 130;  // 128 + SIGINT
constexpr int kExitTerminated = 143;   // 128 + SIGTERM

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "tether root: error: %s\n",
               DescribeError(status).c_str());
  return kExitFailed;
}

}  // namespace

int RootMain(int argc, char** argv, const RootOptions& options,
             const std::function<absl::Status(ActorRuntime& root)>& body) {
  if (std::optional<int> code = RunAsChildIfSpawned(argc, argv)) return *code;
  InstallCrashReport(argv[0]);

  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create(options.name);
  if (!identity.ok()) return Fail(identity.status());
  absl::StatusOr<Address> listen = Address::Parse(options.listen);
  if (!listen.ok()) return Fail(listen.status());
  SetLogActor(identity->name, identity->uuid);
  // Before gRPC starts threads, so they inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  if (!stop.ok()) return Fail(stop.status());
  RouteGrpcLogsToTetherLog();

  absl::StatusOr<TreeToken> token =
      TreeTokenFor(options.registry_addresses, options.token_file);
  if (!token.ok()) return Fail(token.status());

  ActorCore runtime(*identity);
  runtime.SetToken(*std::move(token));
  runtime.SetRegistryAddresses(options.registry_addresses);
  runtime.SetDebugMode(options.debug_mode);
  ShutdownSignal* stop_signal = stop->get();
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *listen,
      [stop_signal](const v1::ActorId& requester) {
        stop_signal->Request(absl::StrCat("cancelled by ", requester.name(),
                                          "[", requester.uuid(), "]"));
      },
      RegistryClients::Create());
  if (!server.ok()) return Fail(server.status());
  runtime.SetStopHandler([stop_signal](const std::string& reason) {
    stop_signal->Request(reason);
  });
  ApplyDebugMode(&runtime, stop_signal);
  std::printf("tether: actor %s listening on %s\n", identity->name.c_str(),
              (*server)->address().ToString().c_str());
  std::fflush(stdout);

  absl::Status result;
  TaskGroup main_task;
  main_task.Spawn("main", [&] {
    result = body(runtime);
    stop_signal->Request(kBodyDone);
    return absl::OkStatus();
  });
  const std::string reason = stop_signal->Wait();
  const bool interrupted = reason != kBodyDone;
  if (interrupted) {
    TETHER_LOG(kInfo) << "interrupted (" << reason << "): cancelling the tree";
    main_task.CancelAll(absl::CancelledError(
        absl::StrCat("the root was interrupted (", reason, ")")));
  }
  main_task.Wait().IgnoreError();
  (*server)->Unregister();
  runtime.CancelServing(runtime.id());
  (*server)->Shutdown(absl::Milliseconds(500));
  if (interrupted) {
    std::fprintf(stderr, "tether root: interrupted (%s)\n", reason.c_str());
    return reason == "SIGTERM" ? kExitTerminated : kExitInterrupted;
  }
  return result.ok() ? 0 : Fail(result);
}

}  // namespace tether
