// Outbox: how payloads are batched and how control frames overtake,
// carry and end the data stream. Flow control, failures and draining are
// in runtime/context/internal/outbox_flow_test.cc.

#include "runtime/context/internal/outbox.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "runtime/context/internal/outbox_test_harness.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether::context_internal::outbox_test {
namespace {

// ------------------------------------------------------------------ batching

TEST(OutboxTest, PayloadSentWhileIdleGoesOutAlone) {
  Harness h;
  EXPECT_FALSE(h.outbox().busy());
  ASSERT_TRUE(h.Send(1).ok());
  EXPECT_EQ(h.writer().Log(), "yield(1)");
  EXPECT_TRUE(h.writer().in_flight());
  EXPECT_TRUE(h.outbox().busy());

  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.outbox().busy());
  ASSERT_TRUE(h.Send(2).ok());
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2)");
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
}

// Frames that queue behind the write in flight are reported to the writer
// once per write, so that a transport whose completions must be polled can
// see to it; a frame written at once is not.
TEST(OutboxTest, FramesWaitingForTheWriteInFlightAreReportedOncePerWrite) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  EXPECT_EQ(h.writer().awaiting_reports(), 0);
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  EXPECT_EQ(h.writer().awaiting_reports(), 1);
  h.outbox().SendControl(StopFrame());
  EXPECT_EQ(h.writer().awaiting_reports(), 1);

  ASSERT_TRUE(h.writer().Complete());  // Writes the Stop, which overtakes.
  EXPECT_EQ(h.writer().awaiting_reports(), 1);
  ASSERT_TRUE(h.writer().Complete());  // Writes yield(2,3); nothing waits.
  h.outbox().SendControl(ReturnFrame(Value::Int(3)));
  EXPECT_EQ(h.writer().awaiting_reports(), 2);
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) stop(3) yield(2,3) return(3)");
}

// Once the receiver's frame limit is known, a payload that cannot fit is
// refused without being queued; the stream goes on.
TEST(OutboxTest, PayloadLargerThanTheReceiversFrameLimitIsRefused) {
  Harness h;
  h.outbox().SetMaxFrameBytes(1000);
  const absl::Status refused = h.outbox().SendData(
      Value::String(std::string(1000, 'x')), absl::Now() + kHang);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find("frame the receiver accepts (1000 bytes)"),
            std::string::npos)
      << refused;
  EXPECT_EQ(h.outbox().payloads_accepted(), 0u);
  EXPECT_EQ(h.writer().Log(), "");

  // One that fits with its frame around it goes.
  ASSERT_TRUE(
      h.outbox()
          .SendData(Value::String(std::string(900, 'x')), absl::Now() + kHang)
          .ok());
  ASSERT_EQ(h.writer().frames().size(), 1u);
  EXPECT_LE(h.writer().frames().front().ByteSizeLong(), 1000u);
  EXPECT_EQ(h.outbox().payloads_accepted(), 1u);
}

TEST(OutboxTest, PayloadsQueuedDuringAWriteLeaveAsOneBatch) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  ASSERT_TRUE(h.Send(4).ok());
  // One write at a time: the rest waits for the first to complete.
  EXPECT_EQ(h.writer().Log(), "yield(1)");
  EXPECT_EQ(h.outbox().payloads_accepted(), 4u);

  ASSERT_TRUE(h.writer().Complete());
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2,3,4)");
  EXPECT_TRUE(h.outbox().busy());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.writer().in_flight());
  EXPECT_FALSE(h.outbox().busy());
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2,3,4)");
}

TEST(OutboxTest, BatchRespectsMaxBatchPayloads) {
  Outbox::Options options;
  options.max_batch_payloads = 3;
  Harness h(options);
  for (int64_t n = 1; n <= 8; ++n) ASSERT_TRUE(h.Send(n).ok());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2,3,4) yield(5,6,7) yield(8)");
}

// Payloads of equal encoded size: "p0xxx...", "p1xxx...", ...
Value SizedPayload(int i) {
  return Value::String(absl::StrCat("p", i, std::string(60, 'x')));
}

// Sends payloads 0..5 under `max_batch_bytes`, flushes, and returns the
// number of payloads in each Yield frame; checks that every frame holds
// the next payloads in order and that a frame of more than one payload
// stays within the limit.
std::vector<size_t> BatchSizesUnderByteLimit(size_t max_batch_bytes) {
  Outbox::Options options;
  options.max_batch_bytes = max_batch_bytes;
  Harness h(options);
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(h.outbox().SendData(SizedPayload(i), absl::Now() + kHang).ok());
  }
  h.writer().CompleteAll();

  std::vector<size_t> sizes;
  int next = 0;
  for (const v1::Frame& frame : h.writer().frames()) {
    const std::vector<Value> values = BatchValues(frame);
    size_t bytes = 0;
    for (const Value& value : values) {
      EXPECT_EQ(value, SizedPayload(next++));
      bytes += value.ByteSizeLong();
    }
    if (values.size() > 1) {
      EXPECT_LE(bytes, max_batch_bytes)
          << "a batch of " << values.size() << " payloads";
    }
    sizes.push_back(values.size());
  }
  EXPECT_EQ(next, 6);
  return sizes;
}

TEST(OutboxTest, BatchRespectsMaxBatchBytesWhenPayloadsFitExactly) {
  const size_t size = SizedPayload(0).ByteSizeLong();
  ASSERT_EQ(SizedPayload(5).ByteSizeLong(), size);
  EXPECT_EQ(BatchSizesUnderByteLimit(2 * size),
            (std::vector<size_t>{1, 2, 2, 1}));
}

TEST(OutboxTest, BatchRespectsMaxBatchBytesWhenTheNextPayloadWouldNotFit) {
  const size_t size = SizedPayload(0).ByteSizeLong();
  // Room for two and a half payloads: a third would exceed the limit.
  EXPECT_EQ(BatchSizesUnderByteLimit(2 * size + size / 2),
            (std::vector<size_t>{1, 2, 2, 1}));
}

TEST(OutboxTest, PayloadLargerThanMaxBatchBytesTravelsAlone) {
  const size_t size = SizedPayload(0).ByteSizeLong();
  EXPECT_EQ(BatchSizesUnderByteLimit(size / 2),
            (std::vector<size_t>{1, 1, 1, 1, 1, 1}));
}

// ------------------------------------------------------------ control frames

TEST(OutboxTest, ControlFrameWhileIdleGoesOutAtOnce) {
  Harness h;
  h.outbox().SendControl(StartedFrame());
  EXPECT_EQ(h.writer().Log(), "started");
  EXPECT_TRUE(h.outbox().busy());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.outbox().busy());
}

TEST(OutboxTest, StartedOvertakesQueuedData) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  h.outbox().SendControl(StartedFrame());
  EXPECT_EQ(h.writer().Log(), "yield(1)");
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) started yield(2,3)");
}

TEST(OutboxTest, CancelAndStopOvertakeQueuedDataInTheirOwnOrder) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  h.outbox().SendControl(CancelFrame());
  h.outbox().SendControl(StopFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) cancel stop(3) yield(2,3)");
}

TEST(OutboxTest, ReturnOvertakesQueuedDataWhichStillFollows) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  h.outbox().SendControl(ReturnFrame(Value::String("done")));
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) return(3) yield(2,3)");

  const std::vector<v1::Frame> frames = h.writer().frames();
  ASSERT_EQ(frames.size(), 3u);
  absl::StatusOr<Value> result = Value::FromProto(frames[1].returned().value());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Value::String("done"));
}

TEST(OutboxTest, StopCarriesThePayloadsAcceptedSoFar) {
  Harness h;
  h.outbox().SendControl(StopFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "stop(0)");

  Harness h2;
  ASSERT_TRUE(h2.Send(1).ok());
  ASSERT_TRUE(h2.Send(2).ok());
  h2.outbox().SendControl(StopFrame());
  h2.writer().CompleteAll();
  EXPECT_EQ(h2.writer().Log(), "yield(1) stop(2) yield(2)");
}

TEST(OutboxTest, ReturnCarriesThePayloadsAcceptedSoFar) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  h.outbox().SendControl(ReturnFrame(Value::Null()));
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2) return(2)");
}

TEST(OutboxTest, ErrorCarriesThePayloadsAcceptedSoFarAndDropsQueuedData) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  h.outbox().SendControl(ErrorFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) error(3)");
  EXPECT_EQ(h.writer().frames().back().error().error().message(), "it failed");
  EXPECT_FALSE(h.outbox().busy());
  EXPECT_EQ(h.outbox().payloads_accepted(), 3u);
}

TEST(OutboxTest, NoControlFrameIsWrittenAfterReturn) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  h.outbox().SendControl(ReturnFrame(Value::Int(7)));
  h.outbox().SendControl(CancelFrame());
  h.outbox().SendControl(ErrorFrame());
  h.writer().CompleteAll();
  h.outbox().SendControl(StopFrame());
  h.outbox().SendControl(StartedFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) return(1)");
}

TEST(OutboxTest, NoControlFrameIsWrittenAfterError) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  h.outbox().SendControl(ErrorFrame());
  h.outbox().SendControl(ReturnFrame(Value::Int(7)));
  h.outbox().SendControl(CancelFrame());
  h.writer().CompleteAll();
  h.outbox().SendControl(ErrorFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) error(1)");
}

TEST(OutboxTest, StopIsNotFinal) {
  Harness h;
  h.outbox().SendControl(StopFrame());
  h.outbox().SendControl(CancelFrame());
  h.outbox().SendControl(ReturnFrame(Value::Int(7)));
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "stop(0) cancel return(0)");
}

// The write that empties the outbox once Return or Error is queued is
// marked last, so that a transport may send it with the end of the call;
// no other write is.
TEST(OutboxTest, OnlyTheWriteThatEndsTheStreamIsMarkedLast) {
  struct Case {
    std::vector<v1::Frame> control;
    std::string log;
    std::vector<size_t> last;
  };
  const std::vector<Case> cases = {
      {{StopFrame()}, "yield(1) stop(3) yield(2,3)", {}},
      {{ReturnFrame(Value())}, "yield(1) return(3) yield(2,3)", {2}},
      {{ErrorFrame()}, "yield(1) error(3)", {1}},
      {{StopFrame(), CancelFrame(), ReturnFrame(Value())},
       "yield(1) stop(3) cancel return(3) yield(2,3)",
       {4}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.log);
    Harness h;
    ASSERT_TRUE(h.Send(1).ok());
    ASSERT_TRUE(h.Send(2).ok());
    ASSERT_TRUE(h.Send(3).ok());
    for (const v1::Frame& frame : c.control) {
      h.outbox().SendControl(v1::Frame(frame));
    }
    h.writer().CompleteAll();
    EXPECT_EQ(h.writer().Log(), c.log);
    EXPECT_EQ(h.writer().writes_marked_last(), c.last);
  }

  // A final frame that leaves after the data is itself the last write.
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  h.outbox().SendControl(ReturnFrame(Value()));
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) return(1)");
  EXPECT_EQ(h.writer().writes_marked_last(), std::vector<size_t>{1});
}

TEST(OutboxTest, SendDataFailsAfterStopReturnOrError) {
  const std::vector<std::pair<v1::Frame, std::string>> cases = {
      {StopFrame(), "yield(1) stop(1)"},
      {ReturnFrame(Value()), "yield(1) return(1)"},
      {ErrorFrame(), "yield(1) error(1)"},
  };
  for (const auto& [ender, log] : cases) {
    SCOPED_TRACE(log);
    Harness h;
    ASSERT_TRUE(h.Send(1).ok());
    h.outbox().SendControl(v1::Frame(ender));
    EXPECT_EQ(h.Send(2).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(h.outbox().payloads_accepted(), 1u);
    h.writer().CompleteAll();
    EXPECT_EQ(h.Send(3).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(h.outbox().payloads_accepted(), 1u);
    EXPECT_EQ(h.writer().Log(), log);
  }
}
}  // namespace
}  // namespace tether::context_internal::outbox_test
