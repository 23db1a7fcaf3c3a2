// Streams stuck behind a side that does not read, across two processes: a
// producer stuck behind an opener that never reads (with overruns allowed
// or with backpressure) ends promptly when the opener cancels or when the
// producer fails, and an opener stuck behind a callee that stopped reading
// can still cancel. The test process opens contexts with
// tests/flow_test_actor; remote state is read with the callee's `probe`
// function, polled with a deadline.

#include <cstdint>
#include <iostream>
#include <ostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/contexts/flow_test_fixture.h"
#include "tests/contexts/flow_test_limits.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/value.h"

namespace tether::flow_test {
namespace {

// --- 18. A producer stuck behind an opener that does not read -------------

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
}  // namespace
}  // namespace tether::flow_test
