// File: tests/debug/debug_root.cc
//
// The root program of debug_terminal_test: a tether::RootMain in debug mode
// whose body is the scenario named by --scenario=NAME (its tree's token
// from --token_file=PATH, RootOptions::token_file). The test runs it in a
// tmux pane, so every prompt of the tree shares that one terminal, and
// reads the screen. The root prints what it observed as `observed
// KEY=VALUE` lines on stdout (the pane too).
//
//   one_pauser           pauser_a pauses, then greets
//   two_pausers          pauser_a and pauser_b pause at the same time
//   child_fails          failer throws: the post-mortem prompt, then the
//                        root receives the boxed remote error
//   root_fails_at_prompt pauser_a pauses; once it holds the terminal the
//                        root's block fails
//   middle_fails_at_grandchild_prompt
//                        the root runs `middle`, whose own nursery runs
//                        `grandchild`, which pauses; once it holds the
//                        terminal the middle's block fails
//
// A scenario that ends with an error returns it, so the program exits 1
// and prints it (RootMain); otherwise it exits 0.

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "rpc/tree_channel.h"
#include "runtime/actor/actor_core.h"
#include "runtime/debug/tty_lock.h"
#include "tether/debugger.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/debug.grpc.pb.h"
#include "tether/v1/error.pb.h"
#include "tether/value.h"

namespace {

using tether::ActorCore;
using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Portal;
using tether::Value;

// Booting children on a loaded 2-core machine, under ASan too.
constexpr absl::Duration kBootTimeout = absl::Seconds(60);
// How long the root waits for a child to reach the prompt.
constexpr absl::Duration kPromptDeadline = absl::Seconds(60);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// One `observed KEY=VALUE` line, flushed at once.
void Observe(absl::string_view key, absl::string_view value) {
  const std::string one_line = absl::StrReplaceAll(value, {{"\n", " | "}});
  std::printf("observed %s=%s\n", std::string(key).c_str(), one_line.c_str());
  std::fflush(stdout);
}

tether::ActorOptions Patient() {
  tether::ActorOptions options;
  options.spawn_timeout = kBootTimeout;
  return options;
}

// --- Functions the children run ---

// Pauses at the debug prompt, then greets. Its name is what `bt` must show.
absl::StatusOr<Value> PauseForTheTest(const Value&) {
  TETHER_RETURN_IF_ERROR(tether::Pause());
  return Value::String(
      absl::StrCat("hello from ", ActorCore::Current()->identity().name));
}
TETHER_REGISTER_PLAIN(pause_for_the_test, PauseForTheTest);

// Throws: debug mode shows the boxed exception at the post-mortem prompt.
absl::StatusOr<Value> ThrowForTheTest(const Value&) {
  throw std::out_of_range("the test's deliberate failure");
}
TETHER_REGISTER_PLAIN(throw_for_the_test, ThrowForTheTest);

// Who holds the TTY lock, as the root's Debug/Status says, or "" when
// nobody does.
absl::StatusOr<std::string> AskRootForHolder(tether::v1::Debug::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  tether::v1::DebugStatus status;
  const grpc::Status answer =
      stub.Status(&context, tether::v1::DebugStatusRequest(), &status);
  if (!answer.ok()) {
    return absl::UnavailableError(
        absl::StrCat("Debug/Status: ", answer.error_message()));
  }
  return status.has_holder() ? status.holder().requester().name() : "";
}

// In `middle`: runs `grandchild`, which pauses, and fails once the
// grandchild holds the terminal. Its nursery must then wait for the
// prompt before it cancels the grandchild.
absl::StatusOr<Value> FailAtGrandchildPrompt(const Value&) {
  ActorCore* self = ActorCore::Current();
  const std::unique_ptr<tether::v1::Debug::Stub> root =
      tether::v1::Debug::NewStub(
          tether::DialTree(self->root().addresses(0), self->token()));
  TETHER_RETURN_IF_ERROR(
      ActorNursery::Open(self, [&](ActorNursery& nursery) -> absl::Status {
        TETHER_RETURN_IF_ERROR(nursery
                                   .RunInActor("grandchild",
                                               "pause_for_the_test", Value(),
                                               Patient())
                                   .status());
        const absl::Time deadline = absl::Now() + kPromptDeadline;
        while (true) {
          TETHER_ASSIGN_OR_RETURN(std::string holder, AskRootForHolder(*root));
          if (holder == "grandchild") break;
          if (absl::Now() >= deadline) {
            return absl::DeadlineExceededError(
                "the grandchild did not take the debug prompt in time");
          }
          TETHER_RETURN_IF_ERROR(tether::Sleep(kPollInterval));
        }
        Observe("middle_failing_while_prompted", "grandchild");
        return absl::AbortedError("the middle's block failed on purpose");
      }));
  return Value::String("the middle's nursery did not fail");
}
TETHER_REGISTER_PLAIN(fail_at_grandchild_prompt, FailAtGrandchildPrompt);

// --- The root's side ---

// Prints how the scenario's nursery ended, and passes its status on.
absl::Status Report(ActorCore& root, const absl::Status& status) {
  if (status.ok()) {
    Observe("nursery", "OK");
    return status;
  }
  const std::optional<tether::v1::ErrorInfo> info =
      tether::GetErrorInfo(status);
  Observe("error_kind", info.has_value()
                            ? tether::v1::ErrorKind_Name(info->kind())
                            : "untyped");
  Observe("error_type", info.has_value() ? info->type() : "");
  Observe("error_source", info.has_value() ? info->source().name() : "");
  Observe("error_remote",
          tether::IsRemoteError(status, root.id()) ? "yes" : "no");
  Observe("error", tether::DescribeError(status));
  return status;
}

// Starts one child per name, each running `function`, and prints each
// result in order.
absl::Status RunEach(ActorCore& root, const std::vector<std::string>& names,
                     const std::string& function) {
  return Report(
      root,
      ActorNursery::Open(&root, [&](ActorNursery& nursery) -> absl::Status {
        // Each result is observed as soon as it is in: which child gets
        // the terminal first, and so returns first, is up to the race.
        tether::TaskGroup observers(/*cancel_on_error=*/true);
        for (const std::string& name : names) {
          TETHER_ASSIGN_OR_RETURN(
              Portal * child,
              nursery.RunInActor(name, function, Value(), Patient()));
          observers.Spawn(name, [&nursery, child]() -> absl::Status {
            TETHER_ASSIGN_OR_RETURN(Value result, nursery.WaitResult(child));
            Observe("result", result.ToJson());
            return absl::OkStatus();
          });
        }
        return observers.Wait();
      }));
}

// Waits until some actor holds the TTY lock this root hosts; returns its
// name. A cancellation point.
absl::StatusOr<std::string> AwaitPromptHolder() {
  const absl::Time deadline = absl::Now() + kPromptDeadline;
  while (absl::Now() < deadline) {
    tether::TtyLock* lock = tether::TtyLock::Hosted();
    if (lock != nullptr) {
      if (std::optional<tether::v1::DebugLockRequest> holder = lock->holder()) {
        return holder->requester().name();
      }
    }
    TETHER_RETURN_IF_ERROR(tether::Sleep(kPollInterval));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nobody took the debug prompt within ",
                   absl::FormatDuration(kPromptDeadline)));
}

absl::Status RootFailsAtPrompt(ActorCore& root) {
  return Report(
      root,
      ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
        TETHER_RETURN_IF_ERROR(nursery
                                   .RunInActor("pauser_a", "pause_for_the_test",
                                               Value(), Patient())
                                   .status());
        TETHER_ASSIGN_OR_RETURN(std::string holder, AwaitPromptHolder());
        Observe("root_failing_while_prompted", holder);
        return absl::AbortedError("the root's block failed on purpose");
      }));
}

const std::map<std::string, std::function<absl::Status(ActorCore&)>>&
Scenarios() {
  static const auto* scenarios = new std::map<
      std::string, std::function<absl::Status(ActorCore&)>>{
      {"one_pauser",
       [](ActorCore& root) {
         return RunEach(root, {"pauser_a"}, "pause_for_the_test");
       }},
      {"two_pausers",
       [](ActorCore& root) {
         return RunEach(root, {"pauser_a", "pauser_b"}, "pause_for_the_test");
       }},
      {"child_fails",
       [](ActorCore& root) {
         return RunEach(root, {"failer"}, "throw_for_the_test");
       }},
      {"root_fails_at_prompt", RootFailsAtPrompt},
      {"middle_fails_at_grandchild_prompt",
       [](ActorCore& root) {
         return RunEach(root, {"middle"}, "fail_at_grandchild_prompt");
       }},
  };
  return *scenarios;
}

}  // namespace

int main(int argc, char** argv) {
  std::string scenario;
  tether::RootOptions options;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--scenario=")) scenario = std::string(arg);
    if (absl::ConsumePrefix(&arg, "--token_file=")) {
      options.token_file = std::string(arg);
    }
  }
  options.name = "debug-root";
  options.debug_mode = true;
  return tether::RootMain(
      argc, argv, options, [&scenario](ActorRuntime& runtime) -> absl::Status {
        ActorCore& root = ActorCore::Of(runtime);
        const auto it = Scenarios().find(scenario);
        if (it == Scenarios().end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown --scenario=", scenario));
        }
        return it->second(root);
      });
}
