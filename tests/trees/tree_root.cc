// File: tests/trees/tree_root.cc
//
// The root program of tree_process_test: a tether::RootMain whose body is
// the scenario named by --scenario=NAME; the functions its children (this
// same binary, re-executed in child mode) serve are in
// tests/trees/tree_root_functions.cc. The root prints what it observed as
// `observed KEY=VALUE` lines on stdout; the test asserts them, and the exit
// code, stderr and /proc.
//
//   tree                 two middle actors, each with a grandchild, all
//                        asleep until the root is signalled
//   spinning_grandchild  a middle actor whose grandchild spins without a
//                        cancellation point; then the root's body fails
//   peer_cancel          caller streams from sleeper; canceller cancels
//                        sleeper's actor; every context reports its side
//   error_before_started errorer opens a context to service, then fails
//                        instead of Started and cancels that context
//   kill_mid_stream      the root streams from a child the test SIGKILLs
//   sever_mid_stream     a child shuts its own server-side connections
//                        mid-stream, staying alive

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/actor/actor_core.h"
#include "tests/trees/tree_root_support.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/value.h"

namespace tether::tree_root {
namespace {

// How often a call to an actor whose link just broke is retried.
constexpr absl::Duration kRetryInterval = absl::Milliseconds(10);

// One `observed KEY=VALUE` line, flushed at once: the test may act on it
// while this process runs on.
void Observe(absl::string_view key, absl::string_view value) {
  const std::string one_line = absl::StrReplaceAll(value, {{"\n", " | "}});
  std::printf("observed %s=%s\n", std::string(key).c_str(), one_line.c_str());
  std::fflush(stdout);
}

const char* YesNo(bool value) { return value ? "yes" : "no"; }

// --- Scenarios: the root's bodies ---

// Two middle actors, each with a sleeping grandchild; prints their pids
// and `observed tree=ready`, then sleeps until the root is interrupted.
absl::Status Tree(ActorCore& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * first, nursery.StartActor("middle-1"));
    TETHER_ASSIGN_OR_RETURN(Portal * second, nursery.StartActor("middle-2"));
    return first->OpenContext(
        "subtree", Value(), [&](Context&, const Value& one) -> absl::Status {
          return second->OpenContext(
              "subtree", Value(),
              [&](Context&, const Value& two) -> absl::Status {
                std::string pids;
                for (const Value* started : {&one, &two}) {
                  for (const char* field : {"middle", "grandchild"}) {
                    TETHER_ASSIGN_OR_RETURN(int64_t pid,
                                            IntField(*started, field));
                    absl::StrAppend(&pids, pids.empty() ? "" : ",", pid);
                  }
                }
                Observe("tree_pids", pids);
                Observe("tree", "ready");
                return SleepUntilCancelled();
              });
        });
  });
}

constexpr char kRootErrorType[] = "tree_root.RootGaveUp";
constexpr char kRootErrorMessage[] =
    "the root gives up while its grandchild spins";

// A middle actor with a spinning grandchild; then the root's body fails.
absl::Status SpinningGrandchild(ActorCore& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * middle, nursery.StartActor("middle"));
    return middle->OpenContext(
        "spawn_spinner", Value(),
        [&](Context&, const Value& started) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(int64_t middle_pid,
                                  IntField(started, "middle"));
          TETHER_ASSIGN_OR_RETURN(int64_t spinner_pid,
                                  IntField(started, "grandchild"));
          Observe("middle_pid", absl::StrCat(middle_pid));
          Observe("grandchild_pid", absl::StrCat(spinner_pid));
          Observe("root", "failing");
          return ApplicationError(kRootErrorType, kRootErrorMessage);
        });
  });
}

// tractor's test_peer_canceller: the root holds a context with sleeper;
// caller streams from sleeper; canceller cancels sleeper's actor. Every
// context reports its outcome and canceller.
absl::Status PeerCancel(ActorCore& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * sleeper, nursery.StartActor("sleeper"));
    TETHER_ASSIGN_OR_RETURN(Portal * caller, nursery.StartActor("caller"));
    TETHER_ASSIGN_OR_RETURN(Portal * canceller,
                            nursery.StartActor("canceller"));
    const Value sleeper_address = Value::Object(
        {{"address", Value::String(sleeper->address().ToString())}});

    // The root's own context with sleeper runs in a task of its own: the
    // ContextCancelled the canceller causes cancels that block, and only
    // that block.
    absl::Notification sleeper_started;
    tether::TaskGroup tasks;
    tasks.Spawn("sleeper_ctx", [&]() -> absl::Status {
      const absl::Status outcome = sleeper->OpenContext(
          "pid_then_sleep", Value(),
          [&](Context& sleeper_ctx, const Value&) -> absl::Status {
            sleeper_started.Notify();
            const absl::Status slept =
                tether::SleepUntil(absl::Now() + kScenarioDeadline);
            Observe("sleeper_ctx.block_ended_by", KindOf(slept));
            Observe("sleeper_ctx.canceller", ContextCanceller(sleeper_ctx));
            Observe("sleeper_ctx.cancel_called",
                    YesNo(sleeper_ctx.cancel_called()));
            return slept;
          });
      Observe("sleeper_ctx.outcome", KindOf(outcome));
      Observe("sleeper_ctx.outcome_canceller", ErrorCanceller(outcome));
      return absl::OkStatus();
    });
    if (!sleeper_started.WaitForNotificationWithTimeout(kScenarioDeadline)) {
      tasks.CancelAll(absl::DeadlineExceededError("sleeper never started"));
      tasks.Wait().IgnoreError();
      return absl::DeadlineExceededError("sleeper never sent Started");
    }

    const absl::Status caller_outcome = caller->OpenContext(
        "stream_from_peer", sleeper_address,
        [&](Context& caller_ctx, const Value&) -> absl::Status {
          const absl::Status canceller_outcome = canceller->OpenContext(
              "cancel_peer", sleeper_address,
              [&](Context& canceller_ctx, const Value&) -> absl::Status {
                TETHER_ASSIGN_OR_RETURN(
                    Value ids,
                    canceller_ctx.Result(absl::Now() + kScenarioDeadline));
                TETHER_ASSIGN_OR_RETURN(Value uuid, ids.Field("canceller"));
                TETHER_ASSIGN_OR_RETURN(Value accepted, ids.Field("accepted"));
                Observe("canceller.uuid", uuid.AsString().value_or("?"));
                Observe("canceller.accepted",
                        accepted.AsString().value_or("?"));
                Observe("canceller_ctx.canceller",
                        ContextCanceller(canceller_ctx));
                Observe("canceller_ctx.cancel_called",
                        YesNo(canceller_ctx.cancel_called()));
                return absl::OkStatus();
              });
          Observe("canceller_ctx.outcome", KindOf(canceller_outcome));
          TETHER_RETURN_IF_ERROR(canceller_outcome);
          TETHER_ASSIGN_OR_RETURN(
              Value seen, caller_ctx.Result(absl::Now() + kScenarioDeadline));
          for (const char* key :
               {"stream_error_kind", "peer_ctx_canceller",
                "open_context_error_kind", "open_context_canceller"}) {
            TETHER_ASSIGN_OR_RETURN(Value field, seen.Field(key));
            Observe(absl::StrCat("caller.", key),
                    field.AsString().value_or("?"));
          }
          for (const char* key : {"peer_ctx_cancel_called", "received_some"}) {
            TETHER_ASSIGN_OR_RETURN(Value field, seen.Field(key));
            Observe(absl::StrCat("caller.", key),
                    YesNo(field.AsBool().value_or(false)));
          }
          Observe("caller_ctx.canceller", ContextCanceller(caller_ctx));
          Observe("caller_ctx.cancel_called",
                  YesNo(caller_ctx.cancel_called()));
          return absl::OkStatus();
        });
    Observe("caller_ctx.outcome", KindOf(caller_outcome));
    TETHER_RETURN_IF_ERROR(tasks.Wait());
    nursery.CancelAll();
    return caller_outcome;
  });
}

// tractor's test_do_not_swallow_error_before_started_by_remote_
// contextcancelled: errorer's context fails before Started, having
// cancelled its own context with service on the way out.
absl::Status ErrorBeforeStarted(ActorCore& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * errorer, nursery.StartActor("errorer"));
    TETHER_ASSIGN_OR_RETURN(Portal * service, nursery.StartActor("service"));
    const absl::Status outcome = errorer->OpenContext(
        "fail_before_started",
        Value::Object(
            {{"address", Value::String(service->address().ToString())}}),
        [](Context&, const Value&) -> absl::Status {
          Observe("errorer_block", "ran");
          return absl::OkStatus();
        });
    const std::optional<tether::v1::ErrorInfo> info =
        tether::GetErrorInfo(outcome);
    Observe("error_kind", KindOf(outcome));
    Observe("is_context_cancelled", YesNo(tether::IsContextCancelled(outcome)));
    if (info.has_value()) {
      Observe("error_type", info->type());
      Observe("error_message", info->message());
      Observe("error_source", info->source().name());
    }
    // The service outlived the cancel of its context and still serves.
    absl::StatusOr<Value> echo =
        service->Run("echo", Value::String("still serving"));
    Observe("service_echo",
            echo.ok() ? echo->AsString().value_or("?") : KindOf(echo.status()));
    nursery.CancelAll();
    return absl::OkStatus();
  });
}

// Whether `pid` has no /proc entry: for a child of this process, that it
// exited and was reaped (an unreaped one stays, a zombie).
std::string ProcState(int64_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return "gone";
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size()
             ? "unknown"
             : std::string(1, line[paren + 2]);
}

// The root streams from a child until the test SIGKILLs it.
absl::Status KillMidStream(ActorCore& root) {
  int64_t streamer_pid = 0;
  const absl::Status nursery_status =
      ActorNursery::Open(&root, [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * streamer,
                                nursery.StartActor("streamer"));
        const absl::Status outcome = streamer->OpenContext(
            "stream_ints", Value(),
            [&](Context& ctx, const Value& started) -> absl::Status {
              TETHER_ASSIGN_OR_RETURN(streamer_pid, started.AsInt());
              TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
              for (int i = 0; i < 3; ++i) {
                TETHER_RETURN_IF_ERROR(stream.Receive().status());
              }
              Observe("streamer_pid", absl::StrCat(streamer_pid));
              Observe("streaming", "yes");
              absl::Status ended;
              while (ended.ok()) {
                ended =
                    stream.Receive(absl::Now() + kScenarioDeadline).status();
              }
              Observe("stream_error_kind", KindOf(ended));
              Observe("stream_error", ended.message());
              return ended;
            });
        Observe("context_error_kind", KindOf(outcome));
        return absl::OkStatus();
      });
  Observe("nursery_error_kind", KindOf(nursery_status));
  Observe("nursery_error", tether::DescribeError(nursery_status));
  Observe("streamer_state_after_nursery", ProcState(streamer_pid));
  return absl::OkStatus();
}

// A child shuts its server-side connections mid-stream and stays alive.
absl::Status SeverMidStream(ActorCore& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * streamer, nursery.StartActor("streamer"));
    int64_t streamer_pid = 0;
    int64_t received = 0;
    const absl::Status outcome = streamer->OpenContext(
        "stream_then_sever", Value::Object({{"after", Value::Int(3)}}),
        [&](Context& ctx, const Value& started) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(streamer_pid, started.AsInt());
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          const absl::Status ended = ReceiveUntilEnd(stream, &received);
          Observe("stream_error_kind", KindOf(ended));
          Observe("stream_error", ended.message());
          return ended;
        });
    Observe("received_before_break", absl::StrCat(received));
    Observe("context_error_kind", KindOf(outcome));
    const std::string state = ProcState(streamer_pid);
    Observe("streamer_alive", YesNo(state != "gone" && state != "Z"));
    // It is reachable again once the channel has a new connection. Until
    // gRPC notices the old one is dead, calls fail fast with
    // TransportClosed; each attempt is a cancellation point.
    const absl::Time deadline = absl::Now() + kScenarioDeadline;
    int attempts = 0;
    absl::StatusOr<Value> echo;
    do {
      if (attempts > 0) TETHER_RETURN_IF_ERROR(tether::Sleep(kRetryInterval));
      ++attempts;
      echo = streamer->Run("echo", Value::String("reconnected"));
    } while (tether::IsTransportClosed(echo.status()) &&
             absl::Now() < deadline);
    Observe("streamer_echo",
            echo.ok() ? echo->AsString().value_or("?") : KindOf(echo.status()));
    Observe("streamer_echo_attempts", absl::StrCat(attempts));
    nursery.CancelAll();
    return absl::OkStatus();
  });
}

const std::map<std::string, std::function<absl::Status(ActorCore&)>>&
Scenarios() {
  static const auto* scenarios =
      new std::map<std::string, std::function<absl::Status(ActorCore&)>>{
          {"tree", Tree},
          {"spinning_grandchild", SpinningGrandchild},
          {"peer_cancel", PeerCancel},
          {"error_before_started", ErrorBeforeStarted},
          {"kill_mid_stream", KillMidStream},
          {"sever_mid_stream", SeverMidStream},
      };
  return *scenarios;
}

}  // namespace
}  // namespace tether::tree_root

int main(int argc, char** argv) {
  std::string scenario;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--scenario=")) scenario = std::string(arg);
  }
  tether::RootOptions options;
  options.name = "tree-root";
  return tether::RootMain(
      argc, argv, options,
      [&scenario](tether::ActorRuntime& runtime) -> absl::Status {
        tether::ActorCore& root = tether::ActorCore::Of(runtime);
        const auto& scenarios = tether::tree_root::Scenarios();
        const auto it = scenarios.find(scenario);
        if (it == scenarios.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown --scenario=", scenario));
        }
        return it->second(root);
      });
}
