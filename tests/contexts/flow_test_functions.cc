// The callee functions of tests/flow_test_actor: slow and fast streaming
// peers for the overrun and backpressure tests, plus plain probes that let a
// test observe, from outside the process, what a context function is doing
// (without reading its stream, which would change what is measured).
//
// Every function takes a JSON object. `token` names one test's records in
// the process-wide board below; functions without one record nothing.
//
//   park            context  Started(null), then waits until cancelled
//   send_then_park  context  {token, n}: Started, streams 0..n-1, then parks
//   slow_consumer   context  {token, allow}: opens its stream (allow_overruns
//                            = allow), sends "ready", waits for the flag
//                            "release", then receives with a 1 ms pause per
//                            value until end of stream; returns the values
//   fast_producer   context  {token, n, allow}: opens its stream, waits for
//                            one value from the opener, streams 0..n-1 as
//                            fast as it can, sets the flag "sent", then
//                            drains the opener's stream; returns n
//   produce         context  {token, n, bytes}: streams n objects
//                            {"i": i, "pad": <bytes x 'x'>}, counting the
//                            sends that completed; `trip` makes it fail;
//                            parks after the last
//   sink            context  {token, allow}: opens its stream
//                            (allow_overruns = allow), sends "ready", then
//                            parks without ever reading
//   echo_values     context  echoes every value until the opener stops
//   probe           plain    {token}: the token's record (see Board)
//   set_flag        plain    {token, flag}
//   await_flag      plain    {token, flag}: waits (up to 60 s) for the flag
//   trip            plain    {token}: fails the token's producer
//   ping            plain    returns its argument

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

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
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/value.h"

namespace tether {
namespace {

// Upper bound of every wait a callee does on a test's behalf, so a test
// that fails half-way never leaves a task waiting forever.
constexpr absl::Duration kCalleeWaitLimit = absl::Seconds(60);

// What the tests can learn about one token. Thread-safe.
class Board {
 public:
  static Board& Get() {
    static Board* board = new Board();
    return *board;
  }

  void Started(const std::string& token) {
    absl::MutexLock lock(&mu_);
    entries_[token].started = true;
    waiters_.NotifyAll();
  }

  void Ended(const std::string& token, const absl::Status& exit) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[token];
    entry.ended = true;
    entry.exit = exit;
    entry.blocked = false;
    waiters_.NotifyAll();
  }

  // One send completed; `fast` when it did not have to wait for room.
  void Sent(const std::string& token, bool fast, absl::Duration took) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[token];
    ++entry.sent;
    entry.blocked = false;
    if (fast) {
      ++entry.fast_sends;
      entry.fast_send_time += took;
    }
  }

  // The producer is about to wait for room in its send queue.
  void Blocked(const std::string& token) {
    absl::MutexLock lock(&mu_);
    entries_[token].blocked = true;
  }

  void SetFlag(const std::string& token, const std::string& flag) {
    absl::MutexLock lock(&mu_);
    entries_[token].flags.insert(flag);
    waiters_.NotifyAll();
  }

  // A cancellation point: the flag, the caller's cancel reason, or
  // DeadlineExceeded after kCalleeWaitLimit.
  absl::Status AwaitFlag(const std::string& token, const std::string& flag) {
    absl::MutexLock lock(&mu_);
    return AwaitLocked(
        mu_, waiters_,
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return entries_[token].flags.count(flag) > 0;
        },
        absl::Now() + kCalleeWaitLimit);
  }

  // While armed, Trip() cancels `trip` (the producer's sending loop).
  void Arm(const std::string& token, CancelHandle trip) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[token];
    entry.armed = true;
    entry.trip = std::move(trip);
  }

  void Disarm(const std::string& token) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[token];
    entry.armed = false;
    entry.trip = CancelHandle();
  }

  // Cancels the token's armed trip scope; false when none is armed.
  bool Trip(const std::string& token) {
    CancelHandle trip;
    {
      absl::MutexLock lock(&mu_);
      Entry& entry = entries_[token];
      if (!entry.armed) return false;
      entry.tripped = true;
      trip = entry.trip;
    }
    trip.Cancel(absl::AbortedError("tripped by the test"));
    return true;
  }

  bool Tripped(const std::string& token) {
    absl::MutexLock lock(&mu_);
    return entries_[token].tripped;
  }

  // {"started", "ended", "sent", "blocked", "fast_sends", "fast_send_ns",
  //  "exit_code", "exit_kind", "exit_type", "exit_canceller", "exit_sender",
  //  "exit"}; kinds are tether.v1.ErrorKind numbers.
  Value Describe(const std::string& token) {
    absl::MutexLock lock(&mu_);
    const Entry& entry = entries_[token];
    const std::optional<v1::ErrorInfo> info = GetErrorInfo(entry.exit);
    return Value::Object({
        {"started", Value::Bool(entry.started)},
        {"ended", Value::Bool(entry.ended)},
        {"sent", Value::Int(entry.sent)},
        {"blocked", Value::Bool(entry.blocked)},
        {"fast_sends", Value::Int(entry.fast_sends)},
        {"fast_send_ns",
         Value::Int(absl::ToInt64Nanoseconds(entry.fast_send_time))},
        {"exit_code", Value::Int(static_cast<int64_t>(entry.exit.code()))},
        {"exit_kind", Value::Int(info.has_value() ? info->kind() : 0)},
        {"exit_type", Value::String(info.has_value() ? info->type() : "")},
        {"exit_canceller",
         Value::String(info.has_value() ? info->canceller().uuid() : "")},
        {"exit_sender",
         Value::String(info.has_value() ? info->sender().uuid() : "")},
        {"exit", Value::String(std::string(entry.exit.message()))},
    });
  }

 private:
  struct Entry {
    bool started = false;
    bool ended = false;
    absl::Status exit;
    int64_t sent = 0;
    bool blocked = false;
    int64_t fast_sends = 0;
    absl::Duration fast_send_time;
    std::set<std::string> flags;
    CancelHandle trip;
    bool armed = false;
    bool tripped = false;
  };

  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
};

// Missing fields read as the fallback; present ones must have the right
// type.
absl::StatusOr<std::string> StringArg(const Value& args, absl::string_view name,
                                      std::string fallback = "") {
  if (!args.Field(name).ok()) return fallback;
  return args.Field(name)->AsString();
}

absl::StatusOr<int64_t> IntArg(const Value& args, absl::string_view name) {
  TETHER_ASSIGN_OR_RETURN(Value field, args.Field(name));
  return field.AsInt();
}

absl::StatusOr<bool> BoolArg(const Value& args, absl::string_view name) {
  if (!args.Field(name).ok()) return false;
  return args.Field(name)->AsBool();
}

// Wraps a context function so the board records its start and its exit
// status under the `token` argument.
ContextFunction Traced(ContextFunction body) {
  return [body = std::move(body)](Context& ctx,
                                  const Value& args) -> absl::StatusOr<Value> {
    absl::StatusOr<std::string> token = StringArg(args, "token");
    if (!token.ok()) return token.status();
    Board::Get().Started(*token);
    absl::StatusOr<Value> result = body(ctx, args);
    Board::Get().Ended(*token, result.status());
    return result;
  };
}

absl::Status ParkUntilCancelled() {
  while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
}

absl::StatusOr<Value> Park(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_RETURN_IF_ERROR(ParkUntilCancelled());
  return Value();
}

absl::StatusOr<Value> SendThenPark(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t n, IntArg(args, "n"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 0; i < n; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
  }
  TETHER_RETURN_IF_ERROR(ParkUntilCancelled());
  return Value();
}

absl::StatusOr<Value> SlowConsumer(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  TETHER_ASSIGN_OR_RETURN(bool allow, BoolArg(args, "allow"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream,
                          ctx.OpenStream(StreamOptions{allow}));
  // The opener sends only after this arrives, so the stream's mode is
  // settled before any of its data can.
  TETHER_RETURN_IF_ERROR(stream.Send(Value::String("ready")));
  TETHER_RETURN_IF_ERROR(Board::Get().AwaitFlag(token, "release"));
  std::vector<Value> received;
  while (true) {
    absl::StatusOr<Value> next = stream.Receive();
    if (absl::IsOutOfRange(next.status())) break;
    TETHER_RETURN_IF_ERROR(next.status());
    received.push_back(*std::move(next));
    // Pacing: this side is the slow one.
    TETHER_RETURN_IF_ERROR(Sleep(absl::Milliseconds(1)));
  }
  return Value::List(std::move(received));
}

absl::StatusOr<Value> FastProducer(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  TETHER_ASSIGN_OR_RETURN(int64_t n, IntArg(args, "n"));
  TETHER_ASSIGN_OR_RETURN(bool allow, BoolArg(args, "allow"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream,
                          ctx.OpenStream(StreamOptions{allow}));
  // The opener's go-ahead: its stream (and its mode) is open.
  TETHER_RETURN_IF_ERROR(stream.Receive().status());
  for (int64_t i = 0; i < n; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
  }
  Board::Get().SetFlag(token, "sent");
  for (const Value& ignored : stream) static_cast<void>(ignored);
  TETHER_RETURN_IF_ERROR(stream.status());
  return Value::Int(n);
}

// Sends `value`, recording on the board whether the send queue had room.
absl::Status SendCounted(MsgStream& stream, const std::string& token,
                         const Value& value) {
  const absl::Time start = absl::Now();
  absl::Status sent = stream.Send(value, absl::InfinitePast());
  if (sent.ok()) {
    Board::Get().Sent(token, /*fast=*/true, absl::Now() - start);
    return sent;
  }
  if (!absl::IsDeadlineExceeded(sent)) return sent;
  Board::Get().Blocked(token);
  TETHER_RETURN_IF_ERROR(stream.Send(value));
  Board::Get().Sent(token, /*fast=*/false, absl::ZeroDuration());
  return absl::OkStatus();
}

absl::StatusOr<Value> Produce(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  TETHER_ASSIGN_OR_RETURN(int64_t n, IntArg(args, "n"));
  TETHER_ASSIGN_OR_RETURN(int64_t bytes, IntArg(args, "bytes"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  const Value pad = Value::String(std::string(static_cast<size_t>(bytes), 'x'));
  absl::Status sending;
  int64_t i = 0;
  {
    // `trip` cancels only the sending loop; the failure it stands for is
    // the function's own, reported below.
    CancelScope trip;
    Board::Get().Arm(token, trip.handle());
    for (; i < n && sending.ok(); ++i) {
      sending = SendCounted(
          stream, token, Value::Object({{"i", Value::Int(i)}, {"pad", pad}}));
    }
    Board::Get().Disarm(token);
  }
  if (!sending.ok() && Board::Get().Tripped(token)) {
    return absl::DataLossError(
        absl::StrCat("the producer failed at value ", i - 1,
                     " while its opener was not reading"));
  }
  TETHER_RETURN_IF_ERROR(sending);
  TETHER_RETURN_IF_ERROR(ParkUntilCancelled());
  return Value();
}

absl::StatusOr<Value> Sink(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(bool allow, BoolArg(args, "allow"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream,
                          ctx.OpenStream(StreamOptions{allow}));
  TETHER_RETURN_IF_ERROR(stream.Send(Value::String("ready")));
  TETHER_RETURN_IF_ERROR(ParkUntilCancelled());
  return Value();
}

absl::StatusOr<Value> EchoValues(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t echoed = 0;
  for (const Value& value : stream) {
    TETHER_RETURN_IF_ERROR(stream.Send(value));
    ++echoed;
  }
  TETHER_RETURN_IF_ERROR(stream.status());
  return Value::Int(echoed);
}

absl::StatusOr<Value> ProbeToken(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  return Board::Get().Describe(token);
}

absl::StatusOr<Value> SetFlag(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  TETHER_ASSIGN_OR_RETURN(std::string flag, StringArg(args, "flag"));
  Board::Get().SetFlag(token, flag);
  return Value();
}

absl::StatusOr<Value> AwaitFlag(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  TETHER_ASSIGN_OR_RETURN(std::string flag, StringArg(args, "flag"));
  TETHER_RETURN_IF_ERROR(Board::Get().AwaitFlag(token, flag));
  return Value();
}

absl::StatusOr<Value> TripProducer(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string token, StringArg(args, "token"));
  return Value::Bool(Board::Get().Trip(token));
}

absl::StatusOr<Value> Ping(const Value& args) { return args; }

TETHER_REGISTER_CONTEXT(park, Traced(Park));
TETHER_REGISTER_CONTEXT(send_then_park, Traced(SendThenPark));
TETHER_REGISTER_CONTEXT(slow_consumer, Traced(SlowConsumer));
TETHER_REGISTER_CONTEXT(fast_producer, Traced(FastProducer));
TETHER_REGISTER_CONTEXT(produce, Traced(Produce));
TETHER_REGISTER_CONTEXT(sink, Traced(Sink));
TETHER_REGISTER_CONTEXT(echo_values, EchoValues);
TETHER_REGISTER_PLAIN(probe, ProbeToken);
TETHER_REGISTER_PLAIN(set_flag, SetFlag);
TETHER_REGISTER_PLAIN(await_flag, AwaitFlag);
TETHER_REGISTER_PLAIN(trip, TripProducer);
TETHER_REGISTER_PLAIN(ping, Ping);

}  // namespace
}  // namespace tether
