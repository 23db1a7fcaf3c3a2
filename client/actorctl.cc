// actorctl: inspect and drive a running actor tree from the command line.
//
//   bazel run //client:actorctl -- ls
//   bazel run //client:actorctl -- tree
//   bazel run //client:actorctl -- info worker
//   bazel run //client:actorctl -- call worker echo --args='"hi"'
//   bazel run //client:actorctl -- stream worker counter --args='{"n":3}'
//   bazel run //client:actorctl -- cancel worker
//
// --registry=ADDR picks the registry (a root's registrar host:port or
// unix:/path, or etcd://host:port); by default $TETHER_REGISTRY, else the
// registrar of the newest root running on this machine
// (runtime/local_roots.h). --json prints JSON. Exit codes: 0 success, 1
// remote error, 2 usage or connection error.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "client/actorctl_commands.h"
#include "client/registry.h"
#include "runtime/actor_identity.h"
#include "runtime/actor_runtime.h"
#include "runtime/local_roots.h"
#include "runtime/log.h"
#include "server/grpc_log.h"
#include "server/shutdown_signal.h"

ABSL_FLAG(std::string, registry, "",
          "Registry: host:port or unix:/path of a registrar, or "
          "etcd://host:port. Default: $TETHER_REGISTRY, else the newest "
          "local root.");
ABSL_FLAG(bool, json, false, "Print JSON.");
ABSL_FLAG(std::string, args, "", "Arguments of call/stream, as JSON.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "Deadline of each lookup and call.");
ABSL_FLAG(std::string, log_level, "warning", "debug, info, warning or error");

namespace tether {
namespace {

constexpr char kUsage[] =
    "usage: actorctl [--registry=ADDR] [--json] COMMAND\n"
    "  ls                         registered actors\n"
    "  tree                       the supervision tree\n"
    "  info NAME                  an actor's state and contexts\n"
    "  call NAME FUNCTION         run a plain function (--args=JSON)\n"
    "  stream NAME FUNCTION       open a context (--args=JSON); stdin lines\n"
    "                             are sent, Ctrl-C cancels\n"
    "  cancel NAME                cancel an actor";

// The one-line error, then the usage text.
int BadUsage(const std::string& message) {
  const int code = UsageError(message);
  std::fprintf(stderr, "%s\n", kUsage);
  return code;
}

absl::StatusOr<std::string> ChooseRegistry() {
  std::string registry = absl::GetFlag(FLAGS_registry);
  if (registry.empty()) {
    const char* env = std::getenv("TETHER_REGISTRY");
    if (env != nullptr) registry = env;
  }
  if (registry.empty()) {
    std::vector<LocalRoot> roots = ListLocalRoots();
    if (roots.empty()) {
      return absl::NotFoundError(
          "no registry given and no root runs on this machine (use "
          "--registry=ADDR or TETHER_REGISTRY)");
    }
    registry = roots.front().address;
  }
  absl::StatusOr<std::unique_ptr<Registry>> parsed = ConnectRegistry(registry);
  if (!parsed.ok()) return parsed.status();
  return registry;
}

int Run(std::vector<char*> positional, ShutdownSignal* interrupt) {
  positional.erase(positional.begin());  // the program
  if (positional.empty()) return BadUsage("no command");
  const std::string command = positional[0];
  std::vector<std::string> operands(positional.begin() + 1, positional.end());
  auto expect = [&](size_t count) { return operands.size() == count; };
  absl::StatusOr<LogLevel> level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return UsageError(std::string(level.status().message()));
  SetLogLevel(*level);

  absl::StatusOr<std::string> registry = ChooseRegistry();
  if (!registry.ok())
    return UsageError(std::string(registry.status().message()));
  ActorRuntime self(*ActorIdentity::Create("actorctl"));
  self.SetRegistryAddresses({*registry});
  CtlOptions options;
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  const std::string args = absl::GetFlag(FLAGS_args);

  if (command == "ls" && expect(0)) return ListActors(self, options);
  if (command == "tree" && expect(0)) return ShowTree(self, options);
  if (command == "info" && expect(1)) {
    return ShowInfo(self, operands[0], options);
  }
  if (command == "call" && expect(2)) {
    return CallFunction(self, operands[0], operands[1], args, options);
  }
  if (command == "stream" && expect(2)) {
    return StreamFunction(self, operands[0], operands[1], args, interrupt,
                          options);
  }
  if (command == "cancel" && expect(1)) {
    return CancelActor(self, operands[0], options);
  }
  return BadUsage(absl::StrCat("bad command line '", command, "' with ",
                               operands.size(), " operands"));
}

}  // namespace
}  // namespace tether

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(tether::kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // Before gRPC starts threads, so they inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<tether::ShutdownSignal>> interrupt =
      tether::ShutdownSignal::Install();
  if (!interrupt.ok()) {
    return tether::UsageError(std::string(interrupt.status().message()));
  }
  tether::RouteGrpcLogsToTetherLog();
  return tether::Run(std::move(positional), interrupt->get());
}
