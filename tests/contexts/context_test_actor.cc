// The callee actor of the context semantics tests
// (tests/contexts/context_semantics_fixture.h): an actor node (the interop set
// plus the test-only functions below) that each test runs as a child process.
// Each function plays one side of a scenario from tractor's
// context-semantics suites.
//
//   simple                     {"data": N, "block_forever": B, "tag": T}:
//                              Started(N + 1); returns "yo", or with B waits
//                              until cancelled
//   started_twice              calls Started twice (a misuse)
//   stream_before_started      opens its stream before Started (a misuse)
//   expect_cancelled           {"tag": T}: Started, echoes its stream until
//                              cancelled
//   cancel_self_before_started cancels its own context, then hits
//                              cancellation points
//   close_stream_at_once       Started, closes its stream, returns "closed"
//   ping_pong                  echoes pings 0, 1, 2, ... until end of stream;
//                              returns how many it saw
//   paced_counter              {"n": N, "gap_us": G}: streams 1..N, G
//                              microseconds apart; returns N
//   fail_then_cleanup          {"mode": "throw"|"return"}: fails, then its
//                              cleanup tells the opener and waits at a
//                              cancellation point for the opener's cancel
//   typed_whois                plain; its argument must be a tether.v1.ActorId
//   typed_started              context; argument a tether.v1.ActorId, sent
//                              back as the Started value
//   task_state                 plain {"tag": T, "state": S, "timeout_ms": M}:
//                              waits up to M ms until the task tagged T is in
//                              state S; returns {"state", "canceller"}
//
// Tagged tasks record "running", then "returned", "cancelled" or "failed",
// and who cancelled them, so the opener can ask the callee actor how a task
// ended.

#include <map>
#include <stdexcept>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/task/wait.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether {
namespace {

// How long a context function waits for a cancel it was promised, so a
// runtime that never delivers it fails the test instead of hanging it.
constexpr absl::Duration kCancelWait = absl::Seconds(10);

// The final states of tagged tasks, for task_state.
class TaskStates {
 public:
  static TaskStates& Get() {
    static TaskStates* states = new TaskStates();
    return *states;
  }

  void Set(const std::string& tag, std::string state, std::string canceller) {
    if (tag.empty()) return;
    absl::MutexLock lock(&mu_);
    states_[tag] = Entry{std::move(state), std::move(canceller)};
    waiters_.NotifyAll();
  }

  // Waits until `tag` is in `state` or `deadline` passes, then returns what
  // it is in (a cancellation point).
  Value Await(const std::string& tag, const std::string& state,
              absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    AwaitLocked(
        mu_, waiters_,
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          auto it = states_.find(tag);
          return it != states_.end() && it->second.state == state;
        },
        deadline)
        .IgnoreError();  // The answer below says what was reached.
    auto it = states_.find(tag);
    if (it == states_.end()) {
      return Value::Object(
          {{"state", Value::String("unknown")}, {"canceller", Value()}});
    }
    return Value::Object({{"state", Value::String(it->second.state)},
                          {"canceller", Value::String(it->second.canceller)}});
  }

 private:
  struct Entry {
    std::string state;
    std::string canceller;
  };
  absl::Mutex mu_;
  std::map<std::string, Entry> states_ ABSL_GUARDED_BY(mu_);
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
};

// The optional field `name` of a JSON object, or `fallback`.
Value FieldOr(const Value& args, absl::string_view name, Value fallback) {
  absl::StatusOr<Value> field = args.Field(name);
  return field.ok() ? *field : fallback;
}

std::string TagOf(const Value& args) {
  absl::StatusOr<std::string> tag =
      FieldOr(args, "tag", Value::String("")).AsString();
  return tag.ok() ? *tag : "";
}

// Records how the tagged task ended and passes its outcome on.
absl::StatusOr<Value> Record(const std::string& tag, const Context& ctx,
                             absl::StatusOr<Value> outcome) {
  std::string canceller;
  if (std::optional<v1::ActorId> who = ctx.canceller()) {
    canceller = who->uuid();
  }
  const char* state = outcome.ok()                           ? "returned"
                      : IsContextCancelled(outcome.status()) ? "cancelled"
                                                             : "failed";
  TaskStates::Get().Set(tag, state, canceller);
  return outcome;
}

absl::StatusOr<Value> SimpleBody(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value data_field, args.Field("data"));
  TETHER_ASSIGN_OR_RETURN(int64_t data, data_field.AsInt());
  TETHER_ASSIGN_OR_RETURN(
      bool block_forever,
      FieldOr(args, "block_forever", Value::Bool(false)).AsBool());
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(data + 1)));
  if (block_forever) {
    while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
  }
  return Value::String("yo");
}

absl::StatusOr<Value> Simple(Context& ctx, const Value& args) {
  const std::string tag = TagOf(args);
  TaskStates::Get().Set(tag, "running", "");
  return Record(tag, ctx, SimpleBody(ctx, args));
}

absl::StatusOr<Value> StartedTwice(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_RETURN_IF_ERROR(ctx.Started());
  return Value::String("Started twice went unnoticed");
}

absl::StatusOr<Value> StreamBeforeStarted(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.OpenStream().status());
  return Value::String("a stream opened before Started");
}

absl::StatusOr<Value> EchoUntilCancelled(Context& ctx) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (const Value& value : stream) {
    TETHER_RETURN_IF_ERROR(stream.Send(value));
  }
  TETHER_RETURN_IF_ERROR(stream.status());
  return absl::FailedPreconditionError(
      "expect_cancelled: the stream ended without a cancel");
}

absl::StatusOr<Value> ExpectCancelled(Context& ctx, const Value& args) {
  const std::string tag = TagOf(args);
  TaskStates::Get().Set(tag, "running", "");
  return Record(tag, ctx, EchoUntilCancelled(ctx));
}

absl::StatusOr<Value> CancelSelfBeforeStarted(Context& ctx, const Value&) {
  ctx.Cancel();
  absl::StatusOr<MsgStream> stream = ctx.OpenStream();
  if (stream.ok()) {
    return absl::FailedPreconditionError(
        "a stream opened after the callee cancelled itself");
  }
  // Every later cancellation point must report the self-cancel too.
  const absl::Status slept = Sleep(kCancelWait);
  if (slept.ok()) {
    return absl::FailedPreconditionError(
        "the callee's self-cancel did not cancel its task");
  }
  return slept;
}

absl::StatusOr<Value> CloseStreamAtOnce(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::String("closed");
}

absl::StatusOr<Value> PingPong(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t seen = 0;
  for (const Value& ping : stream) {
    if (ping != Value::Int(seen)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ping_pong: expected ping ", seen, ", got ", ping.ToJson()));
    }
    TETHER_RETURN_IF_ERROR(stream.Send(ping));
    ++seen;
  }
  TETHER_RETURN_IF_ERROR(stream.status());
  return Value::Int(seen);
}

absl::StatusOr<Value> PacedCounter(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value n_field, args.Field("n"));
  TETHER_ASSIGN_OR_RETURN(int64_t n, n_field.AsInt());
  TETHER_ASSIGN_OR_RETURN(Value gap_field, args.Field("gap_us"));
  TETHER_ASSIGN_OR_RETURN(int64_t gap_us, gap_field.AsInt());
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 1; i <= n; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
    // Pacing, so the opener's consumer is often waiting when a value
    // arrives; nothing relies on the timing.
    TETHER_RETURN_IF_ERROR(Sleep(absl::Microseconds(gap_us)));
  }
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(n);
}

// Cleanup of fail_then_cleanup: runs after the function has failed, tells
// the opener so, then waits for the opener's cancel at a cancellation point.
// The cancel it receives must not replace the original error.
class CleanupWithCheckpoint {
 public:
  explicit CleanupWithCheckpoint(MsgStream* stream) : stream_(stream) {}
  CleanupWithCheckpoint(const CleanupWithCheckpoint&) = delete;
  CleanupWithCheckpoint& operator=(const CleanupWithCheckpoint&) = delete;
  ~CleanupWithCheckpoint() {
    // Errors are moot here: the function's own error is what counts.
    stream_->Send(Value::String("cleaning up")).IgnoreError();
    Sleep(kCancelWait).IgnoreError();
  }

 private:
  MsgStream* stream_;
};

absl::StatusOr<Value> FailThenCleanup(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value mode_field, args.Field("mode"));
  TETHER_ASSIGN_OR_RETURN(std::string mode, mode_field.AsString());
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  CleanupWithCheckpoint cleanup(&stream);
  if (mode == "throw") throw std::runtime_error("my app crashed");
  return absl::DataLossError("my app lost data");
}

absl::StatusOr<Value> TypedWhois(const v1::ActorId& id) {
  return Value::String(id.name());
}

absl::StatusOr<Value> TypedStarted(Context& ctx, const v1::ActorId& id) {
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Message(id)));
  return Value::String(id.name());
}

absl::StatusOr<Value> TaskState(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value tag_field, args.Field("tag"));
  TETHER_ASSIGN_OR_RETURN(std::string tag, tag_field.AsString());
  TETHER_ASSIGN_OR_RETURN(Value state_field, args.Field("state"));
  TETHER_ASSIGN_OR_RETURN(std::string state, state_field.AsString());
  TETHER_ASSIGN_OR_RETURN(Value timeout_field, args.Field("timeout_ms"));
  TETHER_ASSIGN_OR_RETURN(int64_t timeout_ms, timeout_field.AsInt());
  return TaskStates::Get().Await(tag, state,
                                 absl::Now() + absl::Milliseconds(timeout_ms));
}

TETHER_REGISTER_CONTEXT(simple, Simple);
TETHER_REGISTER_CONTEXT(started_twice, StartedTwice);
TETHER_REGISTER_CONTEXT(stream_before_started, StreamBeforeStarted);
TETHER_REGISTER_CONTEXT(expect_cancelled, ExpectCancelled);
TETHER_REGISTER_CONTEXT(cancel_self_before_started, CancelSelfBeforeStarted);
TETHER_REGISTER_CONTEXT(close_stream_at_once, CloseStreamAtOnce);
TETHER_REGISTER_CONTEXT(ping_pong, PingPong);
TETHER_REGISTER_CONTEXT(paced_counter, PacedCounter);
TETHER_REGISTER_CONTEXT(fail_then_cleanup, FailThenCleanup);
TETHER_REGISTER_PLAIN(typed_whois, TypedPlain<v1::ActorId>(TypedWhois));
TETHER_REGISTER_CONTEXT(typed_started, TypedContext<v1::ActorId>(TypedStarted));
TETHER_REGISTER_PLAIN(task_state, TaskState);

}  // namespace
}  // namespace tether

int main(int argc, char** argv) { return tether::ActorNodeMain(argc, argv); }
