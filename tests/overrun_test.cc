// Overruns, allow_overruns and backpressure across two processes: the test
// process opens contexts (its own actor, serving Actor so the callee can
// signal it out of band) with tests/flow_test_actor.
//
// Determinism: nothing here depends on sleeping long enough. A slow side
// that must overrun never consumes until it is failed (it holds a full
// buffer while the rest arrives); a slow side that must not overrun starts
// consuming only once the fast side has queued everything, which each side
// learns from the other through in-band values or the callee's flags.
// Remote state (how far a producer got, whether its task ended) is read
// with the callee's `probe` function, polled with a deadline.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/status_macros.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "tests/flow_test_fixture.h"

namespace tether {
namespace {

// Every context a test opens must end within this; the watchdog cancels it
// otherwise.
constexpr absl::Duration kBlockLimit = absl::Seconds(30);
// What "promptly" means for an error, a cancel or an overrun report.
constexpr absl::Duration kPromptly = absl::Seconds(10);
// The default receive buffer (frame.proto ContextOptions.buffer_size).
constexpr int64_t kDefaultBuffer = 64;
// Inbox::Options::overflow_capacity (runtime/inbox.h): what an
// allow_overruns side holds beyond its buffer before it stops reading.
constexpr int64_t kOverflowCapacity = 4096;
// Outbox::Options::capacity (runtime/outbox.h): payloads a sender queues
// before Send waits.
constexpr int64_t kSendQueueCapacity = 256;

Value Args(std::initializer_list<std::pair<std::string, Value>> fields) {
  return Value::Object(fields);
}

using OverrunTest = FlowTestFixture;

// --- 12. One end never opens its stream -----------------------------------

TEST_F(OverrunTest, OpenerOverrunsACalleeThatNeverOpensItsStream) {
  absl::Status in_block;
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "park", Args({{"token", Value::String("parked")}}),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          for (int64_t i = 0; i <= kDefaultBuffer; ++i) {
            TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
          }
          in_block = stream.Receive(absl::Now() + kPromptly).status();
          return in_block;
        });
  });

  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_STREAM_OVERRUN) << status;
  EXPECT_EQ(info.type(), kStreamOverrunType);
  EXPECT_EQ(info.sender().uuid(), opener().id().uuid());
  EXPECT_EQ(info.source().uuid(), callee_id().uuid());
  EXPECT_TRUE(PathHas(info.relay_path(), callee_id()));
  EXPECT_EQ(InfoOf(in_block).kind(), v1::ERROR_KIND_STREAM_OVERRUN)
      << "the opener's blocked Receive saw " << in_block;

  const absl::StatusOr<Value> record = AwaitProbe("parked", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_STREAM_OVERRUN)
      << record->ToJson();
}

TEST_F(OverrunTest, CalleeOverrunsAnOpenerThatNeverOpensItsStream) {
  absl::Status in_block;
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext("send_then_park",
                                Args({{"token", Value::String("sender")},
                                      {"n", Value::Int(kDefaultBuffer + 1)}}),
                                [&](Context&, const Value&) -> absl::Status {
                                  in_block = AwaitCancellation(kPromptly);
                                  return in_block;
                                });
  });

  // The opener reported the overrun; the callee's task failed with it and
  // relayed it back.
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_STREAM_OVERRUN) << status;
  EXPECT_EQ(info.type(), kStreamOverrunType);
  EXPECT_EQ(info.sender().uuid(), callee_id().uuid());
  EXPECT_EQ(info.source().uuid(), opener().id().uuid());
  EXPECT_TRUE(PathHas(info.relay_path(), callee_id()))
      << "relay path of " << DescribeError(status);
  ASSERT_GT(info.relay_path_size(), 0);
  EXPECT_EQ(info.relay_path(info.relay_path_size() - 1).uuid(),
            callee_id().uuid());
  EXPECT_EQ(InfoOf(in_block).kind(), v1::ERROR_KIND_STREAM_OVERRUN)
      << "the opener's block was cancelled with " << in_block;

  const absl::StatusOr<Value> record = AwaitProbe("sender", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_STREAM_OVERRUN)
      << record->ToJson();
  EXPECT_EQ(StringField(*record, "exit_sender"), callee_id().uuid());
}

TEST_F(OverrunTest, ExactlyAFullBufferIsNotAnOverrun) {
  std::vector<Value> delivered;
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "slow_consumer", Args({{"token", Value::String("brim")}}),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          TETHER_RETURN_IF_ERROR(
              stream.Receive(absl::Now() + kPromptly).status());
          for (int64_t i = 0; i < kDefaultBuffer; ++i) {
            TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
          }
          TETHER_RETURN_IF_ERROR(stream.Close());
          TETHER_RETURN_IF_ERROR(
              portal()
                  .Run("set_flag", Args({{"token", Value::String("brim")},
                                         {"flag", Value::String("release")}}))
                  .status());
          TETHER_ASSIGN_OR_RETURN(Value result,
                                  ctx.Result(absl::Now() + kPromptly));
          TETHER_ASSIGN_OR_RETURN(delivered, result.Elements());
          return absl::OkStatus();
        });
  });
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(delivered.size(), static_cast<size_t>(kDefaultBuffer));
  for (int64_t i = 0; i < kDefaultBuffer; ++i) {
    EXPECT_EQ(delivered[i], Value::Int(i)) << "at " << i;
  }
}

// --- 13. The allow_overruns matrix, buffer size 1 -------------------------

enum class Slow { kCallee, kOpener };
enum class OpenerAllows { kNo, kByContextOptions, kByOpenStream };
enum class CalleeAllows { kNo, kByCalleeCode, kByCalleeAllowOverruns };

struct MatrixCase {
  const char* name;
  Slow slow;
  OpenerAllows opener;
  CalleeAllows callee;
};

void PrintTo(const MatrixCase& c, std::ostream* os) { *os << c.name; }

// Values the fast side sends; with a buffer of 1, every one past the first
// needs the slow side's allowance.
constexpr int64_t kMatrixValues = 20;

class OverrunMatrixTest : public FlowTestFixture,
                          public testing::WithParamInterface<MatrixCase> {
 protected:
  bool SlowSideAllows() const {
    return GetParam().slow == Slow::kCallee
               ? GetParam().callee != CalleeAllows::kNo
               : GetParam().opener != OpenerAllows::kNo;
  }

  ContextOptions Options() const {
    ContextOptions options;
    options.buffer_size = 1;
    options.allow_overruns =
        GetParam().opener == OpenerAllows::kByContextOptions;
    options.callee_allow_overruns =
        GetParam().callee == CalleeAllows::kByCalleeAllowOverruns;
    return options;
  }

  StreamOptions OpenerStreamOptions() const {
    return StreamOptions{GetParam().opener == OpenerAllows::kByOpenStream};
  }

  Value CalleeArgs() const {
    return Args({{"token", Value::String("matrix")},
                 {"n", Value::Int(kMatrixValues)},
                 {"allow", Value::Bool(GetParam().callee ==
                                       CalleeAllows::kByCalleeCode)}});
  }

  // The opener sends; the callee consumes only when released, which
  // happens after every value was queued, and only when it may overrun.
  absl::Status RunSlowCallee(std::vector<Value>* delivered) {
    return portal().OpenContext(
        "slow_consumer", CalleeArgs(),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream,
                                  ctx.OpenStream(OpenerStreamOptions()));
          TETHER_ASSIGN_OR_RETURN(Value ready,
                                  stream.Receive(absl::Now() + kPromptly));
          EXPECT_EQ(ready, Value::String("ready"));
          for (int64_t i = 0; i < kMatrixValues; ++i) {
            TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
          }
          TETHER_RETURN_IF_ERROR(stream.Close());
          if (!SlowSideAllows()) {
            // Never released: the callee holds one value while the rest
            // arrive, so the overrun does not depend on timing.
            return ctx.Result(absl::Now() + kPromptly).status();
          }
          TETHER_RETURN_IF_ERROR(
              portal()
                  .Run("set_flag", Args({{"token", Value::String("matrix")},
                                         {"flag", Value::String("release")}}))
                  .status());
          TETHER_ASSIGN_OR_RETURN(Value result,
                                  ctx.Result(absl::Now() + kPromptly));
          TETHER_ASSIGN_OR_RETURN(*delivered, result.Elements());
          return absl::OkStatus();
        },
        Options());
  }

  // The callee sends once the opener's stream is open; the opener consumes,
  // with a pause per value, once the callee has queued everything, and
  // only when it may overrun.
  absl::Status RunSlowOpener(std::vector<Value>* delivered) {
    return portal().OpenContext(
        "fast_producer", CalleeArgs(),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream,
                                  ctx.OpenStream(OpenerStreamOptions()));
          TETHER_RETURN_IF_ERROR(stream.Send(Value::String("go")));
          if (!SlowSideAllows()) {
            // Never consumes: the overrun does not depend on timing.
            return AwaitCancellation(kPromptly);
          }
          TETHER_RETURN_IF_ERROR(
              portal()
                  .Run("await_flag", Args({{"token", Value::String("matrix")},
                                           {"flag", Value::String("sent")}}))
                  .status());
          for (int64_t i = 0; i < kMatrixValues; ++i) {
            TETHER_ASSIGN_OR_RETURN(Value value,
                                    stream.Receive(absl::Now() + kPromptly));
            delivered->push_back(std::move(value));
            TETHER_RETURN_IF_ERROR(Sleep(absl::Milliseconds(1)));  // Pacing.
          }
          TETHER_RETURN_IF_ERROR(stream.Close());
          TETHER_ASSIGN_OR_RETURN(Value result,
                                  ctx.Result(absl::Now() + kPromptly));
          EXPECT_EQ(result, Value::Int(kMatrixValues));
          return absl::OkStatus();
        },
        Options());
  }
};

TEST_P(OverrunMatrixTest, SlowSideOverrunsUnlessItAllowsOverruns) {
  std::vector<Value> delivered;
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return GetParam().slow == Slow::kCallee ? RunSlowCallee(&delivered)
                                            : RunSlowOpener(&delivered);
  });

  if (SlowSideAllows()) {
    ASSERT_TRUE(status.ok()) << DescribeError(status);
    ASSERT_EQ(delivered.size(), static_cast<size_t>(kMatrixValues));
    for (int64_t i = 0; i < kMatrixValues; ++i) {
      EXPECT_EQ(delivered[i], Value::Int(i)) << "at " << i;
    }
    return;
  }
  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted)
      << DescribeError(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_STREAM_OVERRUN);
  EXPECT_EQ(info.type(), kStreamOverrunType);
  if (GetParam().slow == Slow::kCallee) {
    // Raised in the callee, whose buffer the opener's data overran.
    EXPECT_EQ(info.source().uuid(), callee_id().uuid());
    EXPECT_EQ(info.sender().uuid(), opener().id().uuid());
  } else {
    // Raised here, reported to the callee, relayed back by it.
    EXPECT_EQ(info.source().uuid(), opener().id().uuid());
    EXPECT_EQ(info.sender().uuid(), callee_id().uuid());
    EXPECT_TRUE(PathHas(info.relay_path(), callee_id()))
        << DescribeError(status);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllowOverruns, OverrunMatrixTest,
    testing::Values(
        MatrixCase{"SlowCalleeNoneAllow", Slow::kCallee, OpenerAllows::kNo,
                   CalleeAllows::kNo},
        MatrixCase{"SlowCalleeOnlyOpenerAllows", Slow::kCallee,
                   OpenerAllows::kByContextOptions, CalleeAllows::kNo},
        MatrixCase{"SlowCalleeAllowsInItsCode", Slow::kCallee,
                   OpenerAllows::kNo, CalleeAllows::kByCalleeCode},
        MatrixCase{"SlowCalleeAllowedByOpenerOption", Slow::kCallee,
                   OpenerAllows::kNo, CalleeAllows::kByCalleeAllowOverruns},
        MatrixCase{"SlowCalleeBothAllowByStreams", Slow::kCallee,
                   OpenerAllows::kByOpenStream, CalleeAllows::kByCalleeCode},
        MatrixCase{"SlowCalleeBothAllowByOptions", Slow::kCallee,
                   OpenerAllows::kByContextOptions,
                   CalleeAllows::kByCalleeAllowOverruns},
        MatrixCase{"SlowOpenerNoneAllow", Slow::kOpener, OpenerAllows::kNo,
                   CalleeAllows::kNo},
        MatrixCase{"SlowOpenerOnlyCalleeAllowsInItsCode", Slow::kOpener,
                   OpenerAllows::kNo, CalleeAllows::kByCalleeCode},
        MatrixCase{"SlowOpenerOnlyCalleeAllowedByOption", Slow::kOpener,
                   OpenerAllows::kNo, CalleeAllows::kByCalleeAllowOverruns},
        MatrixCase{"SlowOpenerAllowsByContextOptions", Slow::kOpener,
                   OpenerAllows::kByContextOptions, CalleeAllows::kNo},
        MatrixCase{"SlowOpenerAllowsByOpenStream", Slow::kOpener,
                   OpenerAllows::kByOpenStream, CalleeAllows::kNo},
        MatrixCase{"SlowOpenerBothAllowByStreams", Slow::kOpener,
                   OpenerAllows::kByOpenStream, CalleeAllows::kByCalleeCode},
        MatrixCase{"SlowOpenerBothAllowByOptions", Slow::kOpener,
                   OpenerAllows::kByContextOptions,
                   CalleeAllows::kByCalleeAllowOverruns}),
    [](const testing::TestParamInfo<MatrixCase>& info) {
      return std::string(info.param.name);
    });

// --- 18. A producer stuck behind an opener that does not read -------------

constexpr int64_t kProduced = 100000;
// Big enough that 100,000 of them cannot all fit in gRPC's windows and
// buffers (about 100 MB), so the producer really gets stuck.
constexpr int64_t kStuckPadBytes = 1024;

struct StuckCase {
  const char* name;
  bool backpressure;
};

void PrintTo(const StuckCase& c, std::ostream* os) { *os << c.name; }

class StuckProducerTest : public FlowTestFixture,
                          public testing::WithParamInterface<StuckCase> {
 protected:
  ContextOptions Options() const {
    ContextOptions options;
    options.backpressure = GetParam().backpressure;
    options.allow_overruns = !GetParam().backpressure;
    return options;
  }

  // Payloads the opener's runtime takes before it stops reading.
  static int64_t Absorbed(bool backpressure) {
    return backpressure ? kDefaultBuffer : kDefaultBuffer + kOverflowCapacity;
  }

  Value ProducerArgs(const std::string& token) const {
    return Args({{"token", Value::String(token)},
                 {"n", Value::Int(kProduced)},
                 {"bytes", Value::Int(kStuckPadBytes)}});
  }

  // Inside the opener's block: waits until the producer has sent more than
  // the opener absorbs plus a full send queue, and is waiting for room.
  absl::Status AwaitStuck(const std::string& token) {
    const int64_t absorbed =
        Absorbed(GetParam().backpressure) + kSendQueueCapacity;
    absl::StatusOr<Value> record = AwaitProbe(
        token,
        [absorbed](const Value& r) {
          return IntField(r, "sent") >= absorbed && BoolField(r, "blocked");
        },
        kPromptly);
    if (record.ok()) {
      std::cout << "[ stuck    ] " << GetParam().name
                << ": producer blocked after " << IntField(*record, "sent")
                << " sends\n";
    }
    return record.status();
  }
};

TEST_P(StuckProducerTest, OpenerCancelEndsTheProducerAndTheBlock) {
  std::string context_id;
  absl::Time cancelled_at = absl::InfiniteFuture();
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "produce", ProducerArgs("stuck"),
        [&](Context& ctx, const Value&) -> absl::Status {
          context_id = ctx.id();
          TETHER_RETURN_IF_ERROR(AwaitStuck("stuck"));
          cancelled_at = absl::Now();
          ctx.Cancel();
          return absl::OkStatus();
        },
        Options());
  });
  const absl::Duration block_took = absl::Now() - cancelled_at;

  ASSERT_TRUE(status.ok()) << "the cancel was not absorbed: "
                           << DescribeError(status);
  EXPECT_LT(block_took, kPromptly);
  const absl::StatusOr<Value> record = AwaitProbe("stuck", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  const absl::Duration task_took = absl::Now() - cancelled_at;
  EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << record->ToJson();
  EXPECT_EQ(StringField(*record, "exit_canceller"), opener().id().uuid());
  EXPECT_TRUE(AwaitCalleeContextGone(context_id, kPromptly).ok());
  std::cout << "[ cancel   ] " << GetParam().name << ": block ended "
            << absl::FormatDuration(block_took)
            << " after Cancel(); producer task ended within "
            << absl::FormatDuration(task_took) << "\n";
}

TEST_P(StuckProducerTest, ProducerErrorReachesAnOpenerThatIsNotReading) {
  absl::Status in_block;
  absl::Time tripped_at = absl::InfiniteFuture();
  absl::Time block_cancelled_at = absl::InfiniteFuture();
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "produce", ProducerArgs("failing"),
        [&](Context&, const Value&) -> absl::Status {
          TETHER_RETURN_IF_ERROR(AwaitStuck("failing"));
          tripped_at = absl::Now();
          const absl::StatusOr<Value> tripped =
              portal().Run("trip", Args({{"token", Value::String("failing")}}));
          if (tripped.ok()) {
            EXPECT_EQ(*tripped, Value::Bool(true));
            in_block = AwaitCancellation(kPromptly);
          } else {
            // The producer's error cancelled the block while `trip` was
            // still answering.
            in_block = tripped.status();
          }
          block_cancelled_at = absl::Now();
          return in_block;
        },
        Options());
  });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << DescribeError(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION);
  EXPECT_EQ(info.type(), "absl::StatusCode::kDataLoss");
  EXPECT_EQ(info.source().uuid(), callee_id().uuid());
  EXPECT_EQ(InfoOf(in_block).type(), "absl::StatusCode::kDataLoss")
      << "the opener's block ended with " << in_block;
  EXPECT_LT(block_cancelled_at - tripped_at, kPromptly);
  const absl::StatusOr<Value> record = AwaitProbe("failing", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(IntField(*record, "exit_code"),
            static_cast<int64_t>(absl::StatusCode::kDataLoss));
  std::cout << "[ error    ] " << GetParam().name << ": block cancelled "
            << absl::FormatDuration(block_cancelled_at - tripped_at)
            << " after the producer was failed\n";
}

INSTANTIATE_TEST_SUITE_P(NotReading, StuckProducerTest,
                         testing::Values(StuckCase{"AllowOverruns", false},
                                         StuckCase{"Backpressure", true}),
                         [](const testing::TestParamInfo<StuckCase>& info) {
                           return std::string(info.param.name);
                         });

// The same with the roles swapped: the callee allows overruns and never
// reads, so once its overflow queue is full it stops reading and the
// opener's data (and anything in band behind it) waits in the opener's
// send path. The opener's Cancel must still reach it.

// How long a Send may wait for room before the opener concludes that the
// callee has stopped reading. Only decides when to cancel; the outcome
// must be the same whenever the cancel is sent.
constexpr absl::Duration kStallDetection = absl::Milliseconds(500);

struct SinkCase {
  const char* name;
  CalleeAllows callee;
};

void PrintTo(const SinkCase& c, std::ostream* os) { *os << c.name; }

class StuckOpenerTest : public FlowTestFixture,
                        public testing::WithParamInterface<SinkCase> {};

TEST_P(StuckOpenerTest, OpenerCancelReachesACalleeThatStoppedReading) {
  ContextOptions options;
  options.callee_allow_overruns =
      GetParam().callee == CalleeAllows::kByCalleeAllowOverruns;
  const Value args =
      Args({{"token", Value::String("sink")},
            {"allow",
             Value::Bool(GetParam().callee == CalleeAllows::kByCalleeCode)}});
  std::string context_id;
  int64_t sent = 0;
  absl::Time cancelled_at = absl::InfiniteFuture();
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "sink", args,
        [&](Context& ctx, const Value&) -> absl::Status {
          context_id = ctx.id();
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          TETHER_ASSIGN_OR_RETURN(Value ready,
                                  stream.Receive(absl::Now() + kPromptly));
          EXPECT_EQ(ready, Value::String("ready"));
          const Value pad = Value::String(std::string(kStuckPadBytes, 'x'));
          while (sent < kProduced) {
            const absl::Status sending = stream.Send(
                Value::Object({{"i", Value::Int(sent)}, {"pad", pad}}),
                absl::Now() + kStallDetection);
            if (absl::IsDeadlineExceeded(sending)) break;
            TETHER_RETURN_IF_ERROR(sending);
            ++sent;
          }
          cancelled_at = absl::Now();
          ctx.Cancel();
          return absl::OkStatus();
        },
        options);
  });
  const absl::Duration block_took = absl::Now() - cancelled_at;

  EXPECT_LT(sent, kProduced) << "the callee never stopped reading";
  EXPECT_GE(sent, kDefaultBuffer + kOverflowCapacity);
  ASSERT_TRUE(status.ok()) << "the cancel was not absorbed: "
                           << DescribeError(status);
  EXPECT_LT(block_took, kPromptly);
  const absl::StatusOr<Value> record = AwaitProbe("sink", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << record->ToJson();
  EXPECT_EQ(StringField(*record, "exit_canceller"), opener().id().uuid());
  EXPECT_TRUE(AwaitCalleeContextGone(context_id, kPromptly).ok());
  std::cout << "[ cancel   ] " << GetParam().name << ": opener stuck after "
            << sent << " sends; block ended "
            << absl::FormatDuration(block_took) << " after Cancel()\n";
}

INSTANTIATE_TEST_SUITE_P(
    CalleeNotReading, StuckOpenerTest,
    testing::Values(
        SinkCase{"AllowedByOpenerOption", CalleeAllows::kByCalleeAllowOverruns},
        SinkCase{"AllowedInCalleeCode", CalleeAllows::kByCalleeCode}),
    [](const testing::TestParamInfo<SinkCase>& info) {
      return std::string(info.param.name);
    });

// --- 19. Backpressure bounds what is in flight ----------------------------

// The receive buffer, in payloads, and the size of each payload's padding.
constexpr int64_t kBackpressureBuffer = 16;
constexpr int64_t kBackpressurePadBytes = 16 * 1024;
// Receive steps, each one value, a pause and a probe round trip: the
// receiver takes one value per ~15 ms, the sender one per ~15 us.
constexpr int kSteps = 200;
constexpr absl::Duration kReceiverPace = absl::Milliseconds(15);

// The most a backpressured sender can have sent but the receiver not yet
// received ("in flight"), in payloads:
//
//   receiver's inbox       2 * buffer - 1: a read is issued only while the
//                          buffer holds fewer than `buffer`, and the batch
//                          it brings is at most `buffer` payloads (the
//                          sender caps batches at the buffer size under
//                          backpressure, runtime/context.cc SendOptions).
//   one HTTP/2 window      the receiver's stream window in bytes, over the
//                          payload size. gRPC 1.51's window is
//                          SETTINGS_INITIAL_WINDOW_SIZE, which BDP probing
//                          raises (towards 4 MiB at low memory pressure)
//                          and its PID controller caps at 2^25 bytes, plus
//                          at most 2^20 bytes (kMaxWindowDelta) announced
//                          for a pending read. Each payload is more than
//                          kBackpressurePadBytes on the wire.
//   sender's write         one batch, at most `buffer` payloads, whose
//                          write gRPC has not completed.
//   sender's queue         Outbox::Options::capacity, 256 payloads
//                          (runtime/outbox.h): Send waits beyond it.
constexpr int64_t kWindowBytes = (int64_t{1} << 25) + (int64_t{1} << 20);
constexpr int64_t kInFlightBound =
    (2 * kBackpressureBuffer - 1) +
    (kWindowBytes + kBackpressurePadBytes - 1) / kBackpressurePadBytes +
    kBackpressureBuffer + kSendQueueCapacity;

using BackpressureTest = FlowTestFixture;

TEST_F(BackpressureTest, FastSenderStaysWithinBufferPlusOneWindow) {
  ContextOptions options;
  options.backpressure = true;
  options.buffer_size = kBackpressureBuffer;
  int64_t max_in_flight = 0;
  int64_t sent_at_cancel = 0;
  int64_t received = 0;
  absl::Duration receiving_took;
  absl::Time cancelled_at = absl::InfiniteFuture();
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "produce",
        Args({{"token", Value::String("fast")},
              {"n", Value::Int(kProduced)},
              {"bytes", Value::Int(kBackpressurePadBytes)}}),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          const absl::Time start = absl::Now();
          for (int step = 0; step < kSteps; ++step) {
            TETHER_ASSIGN_OR_RETURN(Value value,
                                    stream.Receive(absl::Now() + kPromptly));
            ++received;
            TETHER_ASSIGN_OR_RETURN(Value index, value.Field("i"));
            EXPECT_EQ(index, Value::Int(step));
            TETHER_RETURN_IF_ERROR(Sleep(kReceiverPace));
            TETHER_ASSIGN_OR_RETURN(Value record, Probe("fast"));
            const int64_t in_flight = IntField(record, "sent") - received;
            max_in_flight = std::max(max_in_flight, in_flight);
            EXPECT_LE(in_flight, kInFlightBound) << "at step " << step;
          }
          receiving_took = absl::Now() - start;
          TETHER_ASSIGN_OR_RETURN(Value record, Probe("fast"));
          sent_at_cancel = IntField(record, "sent");
          cancelled_at = absl::Now();
          ctx.Cancel();
          return absl::OkStatus();
        },
        options);
  });
  const absl::Duration block_took = absl::Now() - cancelled_at;

  ASSERT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_LE(max_in_flight, kInFlightBound);
  EXPECT_LT(sent_at_cancel, kProduced) << "the sender was never held back";
  EXPECT_LT(block_took, kPromptly);
  const absl::StatusOr<Value> record = AwaitProbe("fast", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  const absl::Duration task_took = absl::Now() - cancelled_at;
  EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << record->ToJson();
  EXPECT_EQ(StringField(*record, "exit_canceller"), opener().id().uuid());

  const int64_t fast_sends = IntField(*record, "fast_sends");
  const double send_us =
      fast_sends == 0 ? 0.0
                      : IntField(*record, "fast_send_ns") / 1000.0 / fast_sends;
  const double step_us = absl::ToDoubleMicroseconds(receiving_took) / kSteps;
  std::cout << "[ measured ] buffer " << kBackpressureBuffer << ", payload "
            << kBackpressurePadBytes << " B, " << kSteps << " steps: max in "
            << "flight " << max_in_flight << " payloads (bound "
            << kInFlightBound << "), sent at cancel " << sent_at_cancel
            << "; receiver step " << step_us << " us, sender send " << send_us
            << " us (" << (send_us > 0 ? step_us / send_us : 0.0)
            << "x); block ended " << absl::FormatDuration(block_took)
            << " and the producer within " << absl::FormatDuration(task_took)
            << " after Cancel()\n";
  RecordProperty("max_in_flight", static_cast<int>(max_in_flight));
  RecordProperty("in_flight_bound", static_cast<int>(kInFlightBound));
}

}  // namespace
}  // namespace tether
