// actorctl: inspect and drive a running actor tree from the command line.
//
//   bazel run //actorctl -- ls
//   bazel run //actorctl -- tree
//   bazel run //actorctl -- info worker
//   bazel run //actorctl -- call worker echo --args='"hi"'
//   bazel run //actorctl -- stream worker counter --args='{"n":3}'
//   bazel run //actorctl -- cancel worker
//
//   bazel run //actorctl -- token
//
// --registry=ADDR picks the registry (a root's registrar host:port or
// unix:/path, or etcd://host:port); by default $TETHER_REGISTRY, else the
// registrar of the newest root running on this machine
// (runtime/process/local_roots.h). Calls carry the tree's token
// (docs/security.md): from --token_file, else $TETHER_TOKEN_FILE, else the
// token of the local root serving that registrar. --json prints JSON. Exit
// codes: 0 success, 1 remote error, 2 usage or connection error. The flags are
// parsed by actorctl/actorctl_flags.h; --help lists them.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "actorctl/actorctl_commands.h"
#include "actorctl/actorctl_flags.h"
#include "app/tree_token_source.h"
#include "client/registry/registry.h"
#include "rpc/grpc_log.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "runtime/process/local_roots.h"
#include "runtime/process/shutdown_signal.h"
#include "tether/status_macros.h"

namespace tether {
namespace {

// The one-line error, then a short usage hint.
int BadUsage(absl::string_view message) {
  const int code = UsageError(std::string(message));
  std::fprintf(stderr, "%s\n", kCtlUsageHint);
  return code;
}

absl::StatusOr<std::string> ChooseRegistry(const CtlCommandLine& line) {
  std::string registry = line.registry;
  if (registry.empty()) {
    const char* env = std::getenv("TETHER_REGISTRY");
    if (env != nullptr) registry = env;
  }
  if (registry.empty()) {
    absl::StatusOr<std::vector<LocalRoot>> roots = ListLocalRoots();
    if (!roots.ok()) return roots.status();
    if (roots->empty()) {
      return absl::NotFoundError(
          "no registry given and no root runs on this machine (use "
          "--registry=ADDR or TETHER_REGISTRY)");
    }
    registry = roots->front().address;
  }
  TETHER_RETURN_IF_ERROR(CheckRegistryAddress(registry));
  return registry;
}

absl::StatusOr<TreeToken> ChooseToken(const CtlCommandLine& line,
                                      const std::string& registry) {
  std::string token_file = line.token_file;
  if (token_file.empty()) {
    const char* env = std::getenv("TETHER_TOKEN_FILE");
    if (env != nullptr) token_file = env;
  }
  return TreeTokenFor({registry}, token_file);
}

int Run(const CtlCommandLine& line, ShutdownSignal* interrupt) {
  if (line.operands.empty()) return BadUsage("no command");
  const std::string& command = line.operands[0];
  const std::vector<std::string> operands(line.operands.begin() + 1,
                                          line.operands.end());
  auto expect = [&](size_t count) { return operands.size() == count; };
  SetLogLevel(line.log_level);

  absl::StatusOr<std::string> registry = ChooseRegistry(line);
  if (!registry.ok())
    return UsageError(std::string(registry.status().message()));
  absl::StatusOr<TreeToken> token = ChooseToken(line, *registry);
  if (!token.ok()) return UsageError(std::string(token.status().message()));
  ActorCore self(*ActorIdentity::Create("actorctl"));
  self.SetToken(*std::move(token));
  self.SetRegistryAddresses({*registry});
  CtlOptions options;
  options.json = line.json;
  options.timeout = line.timeout;
  const std::string& args = line.args;

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
  if (command == "token" && expect(0)) return PrintToken(self);
  return BadUsage(absl::StrCat("bad command line '", command, "' with ",
                               operands.size(), " operands"));
}

}  // namespace
}  // namespace tether

int main(int argc, char** argv) {
  absl::StatusOr<tether::CtlCommandLine> line =
      tether::ParseCtlCommandLine(argc, argv);
  if (!line.ok()) return tether::BadUsage(line.status().message());
  if (line->help) {
    std::fputs(tether::kCtlHelp, stdout);
    return tether::kExitOk;
  }
  // Before gRPC starts threads, so they inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<tether::ShutdownSignal>> interrupt =
      tether::ShutdownSignal::Install();
  if (!interrupt.ok()) {
    return tether::UsageError(std::string(interrupt.status().message()));
  }
  tether::RouteGrpcLogsToTetherLog();
  return tether::Run(*line, interrupt->get());
}
