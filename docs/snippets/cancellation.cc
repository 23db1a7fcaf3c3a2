// The cancellation rules of docs/guide.md, one case each. The root opens a
// context with a child actor and prints what its side saw; the callee
// functions note what their side saw, which the root then fetches with the
// plain function `seen`.
//
//   bazel run //docs:cancellation

#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "docs/snippets/support.h"
#include "tether/context.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/msg_stream.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/value.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Context;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

// --- The callee's side ---

// What each case's callee saw, by case number (in the child).
absl::Mutex notes_mu;
std::map<int64_t, std::string> notes ABSL_GUARDED_BY(notes_mu);

void Note(const Value& args, const absl::Status& status) {
  const int64_t number = args.AsInt().value_or(0);
  absl::MutexLock lock(&notes_mu);
  notes[number] = guide::Outcome(status);
}

// `seen(N)`: the note of case N, once the callee has written it.
absl::StatusOr<Value> Seen(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t number, args.AsInt());
  absl::MutexLock lock(&notes_mu);
  auto noted = [number]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(notes_mu) {
    return notes.count(number) > 0;
  };
  if (!notes_mu.AwaitWithTimeout(absl::Condition(&noted), absl::Seconds(10))) {
    return absl::DeadlineExceededError("the callee wrote no note");
  }
  return Value::String(notes[number]);
}
TETHER_REGISTER_PLAIN(seen, Seen);

// [START sleeper]
// Started, then sleeps until its task is cancelled.
absl::StatusOr<Value> Sleeper(Context& ctx, const Value& args) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  const absl::Status slept = tether::SleepUntil(absl::InfiniteFuture());
  Note(args, slept);  // what the callee saw
  return slept;
}
TETHER_REGISTER_CONTEXT(sleeper, Sleeper);
// [END sleeper]

// Started, then cancels its own task.
absl::StatusOr<Value> Quitter(Context& ctx, const Value& args) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  ctx.Cancel();
  const absl::Status slept = tether::SleepUntil(absl::InfiniteFuture());
  Note(args, slept);
  return slept;
}
TETHER_REGISTER_CONTEXT(quitter, Quitter);

// Started, then fails.
absl::StatusOr<Value> Faulty(Context& ctx, const Value& args) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  Note(args, absl::OkStatus());
  throw std::runtime_error("boom");
}
TETHER_REGISTER_CONTEXT(faulty, Faulty);

// Started, then sends far more than the opener's buffer holds, then
// sleeps until cancelled.
absl::StatusOr<Value> Flood(Context& ctx, const Value& args) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  absl::Status status;
  for (int i = 0; i < 1000 && status.ok(); ++i) {
    status = stream.Send(Value::Int(i));
  }
  if (status.ok()) status = tether::SleepUntil(absl::InfiniteFuture());
  Note(args, status);
  return status;
}
TETHER_REGISTER_CONTEXT(flood, Flood);

// --- The opener's side: one function per case ---

void Show(const char* what, const absl::Status& status) {
  std::printf("  %-22s %s\n", what, guide::Outcome(status).c_str());
}

// Prints what the callee of case `number` saw.
void ShowCallee(Portal& worker, int64_t number) {
  absl::StatusOr<Value> seen = worker.Run("seen", Value::Int(number));
  std::printf("  %-22s %s\n", "callee saw:",
              seen.ok() ? seen->AsString().value_or("?").c_str()
                        : guide::Outcome(seen.status()).c_str());
}

// [START opener_cancel]
void OpenerCancels(Portal& worker) {
  absl::StatusOr<Value> result;
  const absl::Status status =
      worker.OpenContext("sleeper", Value::Int(1),
                         [&](Context& ctx, const Value&) -> absl::Status {
                           ctx.Cancel();           // ask the callee to stop
                           result = ctx.Result();  // its ContextCancelled
                           return absl::OkStatus();
                         });
  Show("ctx.Result():", result.status());
  Show("OpenContext:", status);  // OK: we asked, so we absorb it
}
// [END opener_cancel]

// [START actor_cancel]
void ActorCancelled(Portal& victim) {
  absl::Status in_block;
  const absl::Status status = victim.OpenContext(
      "sleeper", Value::Int(2), [&](Context&, const Value&) -> absl::Status {
        TETHER_RETURN_IF_ERROR(victim.CancelActor().status());
        in_block = tether::SleepUntil(absl::InfiniteFuture());
        return in_block;
      });
  Show("the block's sleep:", in_block);
  Show("OpenContext:", status);  // not absorbed: no ctx.Cancel() here
}
// [END actor_cancel]

// [START callee_cancel]
void CalleeCancelsItself(Portal& worker) {
  absl::Status in_block;
  const absl::Status status = worker.OpenContext(
      "quitter", Value::Int(3), [&](Context&, const Value&) -> absl::Status {
        in_block = tether::SleepUntil(absl::InfiniteFuture());
        return in_block;
      });
  Show("the block's sleep:", in_block);
  Show("OpenContext:", status);  // not absorbed: the callee cancelled
}
// [END callee_cancel]

// [START block_error]
void BlockFails(Portal& worker) {
  const absl::Status status = worker.OpenContext(
      "sleeper", Value::Int(4), [&](Context&, const Value&) -> absl::Status {
        return absl::DataLossError("the block gave up");
      });
  Show("OpenContext:", status);  // the block's own error
}
// [END block_error]

// [START callee_error]
void CalleeFails(Portal& worker) {
  absl::Status in_block;
  const absl::Status status = worker.OpenContext(
      "faulty", Value::Int(5), [&](Context&, const Value&) -> absl::Status {
        in_block = tether::SleepUntil(absl::InfiniteFuture());
        return in_block;
      });
  Show("the block's sleep:", in_block);
  Show("OpenContext:", status);  // the callee's error, boxed
}
// [END callee_error]

// [START overrun]
void OpenerOverrun(Portal& worker) {
  absl::Status in_block;
  const absl::Status status = worker.OpenContext(
      "flood", Value::Int(6), [&](Context&, const Value&) -> absl::Status {
        in_block = tether::SleepUntil(absl::InfiniteFuture());  // no reads
        return in_block;
      });
  Show("the block's sleep:", in_block);
  Show("OpenContext:", status);
}
// [END overrun]

absl::Status Main(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * worker, nursery.StartActor("worker"));
    TETHER_ASSIGN_OR_RETURN(Portal * victim, nursery.StartActor("victim"));

    std::printf("1. the opener calls ctx.Cancel()\n");
    OpenerCancels(*worker);
    ShowCallee(*worker, 1);

    std::printf("2. the root cancels the callee's actor\n");
    ActorCancelled(*victim);  // the victim exits; nothing to ask it

    std::printf("3. the callee cancels itself\n");
    CalleeCancelsItself(*worker);
    ShowCallee(*worker, 3);

    std::printf("4. the opener's block fails\n");
    BlockFails(*worker);
    ShowCallee(*worker, 4);

    std::printf("5. the callee fails\n");
    CalleeFails(*worker);

    std::printf("6. the callee overruns the opener\n");
    OpenerOverrun(*worker);
    ShowCallee(*worker, 6);

    nursery.CancelAll();
    return absl::OkStatus();
  });
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "root";
  return tether::RootMain(argc, argv, options, Main);
}
