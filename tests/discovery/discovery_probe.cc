// File: tests/discovery/discovery_probe.cc
//
// Finds an actor by name through a registry and streams from it: the
// opener of the cross-host discovery test, run in another network
// namespace than the actor it looks for. It is no actor itself (it serves
// nothing and registers nowhere).
//
//   discovery_probe --registry=ADDR --name=NAME --function=FN --args=JSON
//                   [--token_file=PATH] [--timeout=20s]
//
// Waits (WaitForActor) until an actor named NAME is registered with the
// registry ADDR and answers, opens a context with its context function FN,
// which must open a stream, and prints one line each:
//
//   found NAME at ADDRESS
//   started JSON          the callee's Started value
//   value JSON            each streamed value, in order
//   result JSON           the context's result
//
// Exit codes: 0 once the context returned; 1 with one line
// `discovery_probe: error: ...` on stderr when anything failed or
// --timeout passed; 2 for bad flags.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/tree_token_source.h"
#include "client/registry/registry.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "tether/context.h"
#include "tether/discovery.h"
#include "tether/errors.h"
#include "tether/msg_stream.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/value.h"

ABSL_FLAG(std::string, registry, "",
          "The registry to look NAME up in: host:port, unix:/path or "
          "etcd://host:port");
ABSL_FLAG(std::string, name, "", "The name of the actor to find");
ABSL_FLAG(std::string, function, "", "A context function that streams");
ABSL_FLAG(std::string, args, "null", "The function's arguments, as JSON");
ABSL_FLAG(std::string, token_file, "",
          "The tree's token file (as actor_node's --token_file)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(20),
          "How long finding the actor and streaming may take in all");

namespace tether {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Fail(int code, const absl::Status& status) {
  std::fprintf(stderr, "discovery_probe: error: %s\n",
               DescribeError(status).c_str());
  return code;
}

void Print(absl::string_view what, absl::string_view text) {
  std::printf("%s %s\n", std::string(what).c_str(), std::string(text).c_str());
  std::fflush(stdout);
}

absl::Status Probe(ActorCore& self, const std::string& name,
                   const std::string& function, Value args,
                   absl::Time deadline) {
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Portal> actor,
                          WaitForActor(&self, name, deadline - absl::Now()));
  Print("found", absl::StrCat(name, " at ", actor->address().ToString()));
  return actor->OpenContext(
      function, std::move(args),
      [deadline](Context& ctx, const Value& started) -> absl::Status {
        Print("started", started.ToJson());
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        while (true) {
          absl::StatusOr<Value> value = stream.Receive(deadline);
          if (absl::IsOutOfRange(value.status())) break;
          TETHER_RETURN_IF_ERROR(value.status());
          Print("value", value->ToJson());
        }
        TETHER_ASSIGN_OR_RETURN(Value result, ctx.Result(deadline));
        Print("result", result.ToJson());
        return absl::OkStatus();
      });
}

int Run(const std::vector<char*>& positional) {
  if (positional.size() > 1) {
    return Fail(kExitUsage, absl::InvalidArgumentError(absl::StrCat(
                                "unexpected argument '", positional[1], "'")));
  }
  const std::string registry = absl::GetFlag(FLAGS_registry);
  const std::string name = absl::GetFlag(FLAGS_name);
  const std::string function = absl::GetFlag(FLAGS_function);
  if (registry.empty() || name.empty() || function.empty()) {
    return Fail(kExitUsage, absl::InvalidArgumentError(
                                "--registry, --name and --function are "
                                "required"));
  }
  const absl::Status checked = CheckRegistryAddress(registry);
  if (!checked.ok()) return Fail(kExitUsage, checked);
  absl::StatusOr<TreeToken> token =
      TreeTokenFor({registry}, absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) return Fail(kExitUsage, token.status());
  absl::StatusOr<Value> args = Value::ParseJson(absl::GetFlag(FLAGS_args));
  if (!args.ok()) {
    return Fail(kExitUsage, absl::InvalidArgumentError(absl::StrCat(
                                "--args: ", args.status().message())));
  }
  absl::StatusOr<ActorIdentity> identity =
      ActorIdentity::Create("discovery-probe");
  if (!identity.ok()) return Fail(kExitFailed, identity.status());
  SetLogLevel(LogLevel::kWarning);

  ActorCore self(*identity);
  self.SetToken(*std::move(token));
  self.SetRegistryAddresses({registry});
  const absl::Status probed = Probe(self, name, function, *std::move(args),
                                    absl::Now() + absl::GetFlag(FLAGS_timeout));
  if (!probed.ok()) return Fail(kExitFailed, probed);
  return 0;
}

}  // namespace
}  // namespace tether

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Finds an actor by name through a registry and streams from it.\n"
      "  discovery_probe --registry=ADDR --name=NAME --function=FN "
      "--args=JSON");
  return tether::Run(absl::ParseCommandLine(argc, argv));
}
