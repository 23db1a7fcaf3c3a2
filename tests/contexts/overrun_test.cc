// Overruns and the allow_overruns matrix across two processes: the test
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
//
// Stuck streams and backpressure are in tests/contexts/stuck_stream_test.cc and
// tests/contexts/backpressure_test.cc.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

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
}  // namespace
}  // namespace tether::flow_test
