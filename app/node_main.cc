#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "app/serve.h"
#include "app/tree_token_source.h"
#include "client/registry/registry.h"
#include "rpc/grpc_log.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/crash_report.h"
#include "runtime/base/log.h"
#include "runtime/process/shutdown_signal.h"
#include "tether/address.h"
#include "tether/main.h"

ABSL_FLAG(std::string, name, "actor", "Actor name: letters, digits, . _ -");
ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "Address to serve on: host:port (port 0 picks a free port) or "
          "unix:/path");
ABSL_FLAG(std::vector<std::string>, registry, {},
          "Registries to join, comma-separated: host:port or unix:/path of "
          "a root's registrar, or etcd://host:port. Empty: this node hosts "
          "the registrar itself.");
ABSL_FLAG(bool, debug, false,
          "Debug mode for this node's tree: Pause() prompts and post-mortem "
          "prompts on the shared terminal");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");
ABSL_FLAG(std::string, token_file, "",
          "File holding the tree's token (64 hex digits; mode 0600). "
          "Without it a node that joins a registrar takes the token of the "
          "root serving there on this machine, and a root makes a fresh "
          "one.");

namespace tether {
namespace {

constexpr int kExitUsage = 2;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "actor_node: error: %s\n",
               std::string(status.message()).c_str());
  return kExitUsage;
}

int Run(const std::vector<char*>& positional) {
  if (positional.size() > 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", positional[1],
        "' (flags are --name, --listen, --registry, --debug, --log_level, "
        "--token_file)")));
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
  const std::vector<std::string> registries = absl::GetFlag(FLAGS_registry);
  for (const std::string& registry : registries) {
    const absl::Status checked = CheckRegistryAddress(registry);
    if (!checked.ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--registry: ", checked.message())));
    }
  }
  absl::StatusOr<TreeToken> token =
      TreeTokenFor(registries, absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) {
    return Fail(
        absl::Status(token.status().code(),
                     absl::StrCat("--token_file: ", token.status().message())));
  }
  SetLogActor(identity->name, identity->uuid);

  // Before gRPC starts threads, so they inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  if (!stop.ok()) return Fail(stop.status());
  RouteGrpcLogsToTetherLog();

  ActorCore runtime(*identity);
  runtime.SetToken(*std::move(token));
  runtime.SetRegistryAddresses(registries);
  runtime.SetDebugMode(absl::GetFlag(FLAGS_debug));
  const absl::Status served =
      Serve(&runtime, *listen, stop->get(), [&](const Address& bound) {
        std::printf("tether: actor %s listening on %s\n",
                    identity->name.c_str(), bound.ToString().c_str());
        std::fflush(stdout);
      });
  if (!served.ok()) return Fail(served);
  return 0;
}

}  // namespace

int ActorNodeMain(int argc, char** argv) {
  if (std::optional<int> code = RunAsChildIfSpawned(argc, argv)) return *code;
  InstallCrashReport(argv[0]);
  absl::SetProgramUsageMessage(
      "Runs one Tether actor.\n"
      "  actor_node --name=NAME --listen=HOST:PORT|unix:/PATH "
      "[--registry=ADDR] [--token_file=PATH]");
  return Run(absl::ParseCommandLine(argc, argv));
}

}  // namespace tether
