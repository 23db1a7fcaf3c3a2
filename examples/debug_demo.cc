// Debug mode demo: many actor processes, one terminal.
//
//   bazel run //examples:debug_demo
//
// The root runs in debug mode and starts three children. Two of them call
// Pause(): one prompt appears at a time (the tree-wide TTY lock hands the
// terminal over first in, first out); type `bt`, `ctx`, or `c` to continue.
// The third fails: its error is shown at the same prompt (post-mortem)
// before it reaches the root, which prints it with its relay path.

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tether/debugger.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/status_macros.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Portal;
using tether::Value;

// Pauses at the prompt, then greets.
absl::StatusOr<Value> PauseThenGreet(const Value&) {
  TETHER_RETURN_IF_ERROR(tether::Pause());
  return Value::String(
      absl::StrCat("hello from ", ActorRuntime::Current()->id().name()));
}
TETHER_REGISTER_PLAIN(demo_pause_then_greet, PauseThenGreet);

// Fails, to show the post-mortem prompt.
absl::StatusOr<Value> FailOnPurpose(const Value&) {
  return absl::InvalidArgumentError("the demo's deliberate failure");
}
TETHER_REGISTER_PLAIN(demo_fail, FailOnPurpose);

absl::Status Demo(ActorRuntime& root) {
  const absl::Status crashed =
      ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(
            Portal * first,
            nursery.RunInActor("pauser_a", "demo_pause_then_greet", Value()));
        TETHER_ASSIGN_OR_RETURN(
            Portal * second,
            nursery.RunInActor("pauser_b", "demo_pause_then_greet", Value()));
        for (Portal* pauser : {first, second}) {
          TETHER_ASSIGN_OR_RETURN(Value greeting, nursery.WaitResult(pauser));
          std::printf("root: %s\n", greeting.ToJson().c_str());
        }
        TETHER_ASSIGN_OR_RETURN(
            Portal * crasher,
            nursery.RunInActor("crasher", "demo_fail", Value()));
        return nursery.WaitResult(crasher).status();
      });
  std::printf("root: the crasher's error, relayed: %s\n",
              tether::DescribeError(crashed).c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "debug_demo";
  options.debug_mode = true;
  return tether::RootMain(argc, argv, options, Demo);
}
