#include "runtime/outbox.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "tether/v1/frame.pb.h"

namespace tether {

// Failure messages show values as JSON.
void PrintTo(const Value& value, std::ostream* os) { *os << value.ToJson(); }

namespace {

// Long enough that reaching it means a wake-up was lost.
constexpr absl::Duration kHang = absl::Seconds(30);

// The payloads of a Yield frame; a test failure when it is not a valid one.
std::vector<Value> BatchValues(const v1::Frame& frame) {
  if (!frame.has_yield_batch()) {
    ADD_FAILURE() << "not a Yield frame: " << frame.ShortDebugString();
    return {};
  }
  absl::StatusOr<std::vector<Value>> values =
      ValuesFromBatch(frame.yield_batch().values());
  if (!values.ok()) {
    ADD_FAILURE() << values.status();
    return {};
  }
  return *std::move(values);
}

// A frame in short: "yield(1,2)", "started", "stop(3)", "return(3)",
// "error(3)", "cancel".
std::string Describe(const v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kYieldBatch: {
      std::vector<std::string> values;
      for (const Value& value : BatchValues(frame)) {
        values.push_back(value.ToJson());
      }
      return absl::StrCat("yield(", absl::StrJoin(values, ","), ")");
    }
    case v1::Frame::kStarted:
      return "started";
    case v1::Frame::kStop:
      return absl::StrCat("stop(", frame.stop().data_count(), ")");
    case v1::Frame::kReturned:
      return absl::StrCat("return(", frame.returned().data_count(), ")");
    case v1::Frame::kError:
      return absl::StrCat("error(", frame.error().data_count(), ")");
    case v1::Frame::kCancel:
      return "cancel";
    default:
      return frame.ShortDebugString();
  }
}

v1::Frame StartedFrame() {
  v1::Frame frame;
  *frame.mutable_started()->mutable_value() = Value::Int(0).ToProto();
  return frame;
}

v1::Frame StopFrame() {
  v1::Frame frame;
  frame.mutable_stop();
  return frame;
}

v1::Frame ReturnFrame(const Value& value) {
  v1::Frame frame;
  *frame.mutable_returned()->mutable_value() = value.ToProto();
  return frame;
}

v1::Frame ErrorFrame() {
  v1::Frame frame;
  frame.mutable_error()->mutable_error()->set_message("it failed");
  return frame;
}

v1::Frame CancelFrame() {
  v1::Frame frame;
  frame.mutable_cancel();
  return frame;
}

// A transport that records every frame the outbox starts writing and
// completes a write only when the test says so. Notes a second write
// started while one is in flight, and a frame that changed while in
// flight. Thread-safe: a sender task may start a write.
class FakeWriter : public FrameWriter {
 public:
  void set_outbox(Outbox* outbox) { outbox_ = outbox; }

  void StartWrite(const v1::Frame* frame) override {
    absl::MutexLock lock(&mu_);
    if (in_flight_ != nullptr) ++overlapping_writes_;
    in_flight_ = frame;
    frames_.push_back(*frame);
  }

  // Completes the write in flight with `ok`; false when none is.
  bool Complete(bool ok = true) {
    {
      absl::MutexLock lock(&mu_);
      if (in_flight_ == nullptr) return false;
      if (in_flight_->SerializeAsString() !=
          frames_.back().SerializeAsString()) {
        ++changed_frames_;
      }
      in_flight_ = nullptr;
    }
    outbox_->OnWriteDone(ok);
    return true;
  }

  // Completes writes, including those each completion starts, until none
  // is in flight.
  void CompleteAll() {
    for (int i = 0; i < 1000 && Complete(); ++i) {
    }
  }

  bool in_flight() const {
    absl::MutexLock lock(&mu_);
    return in_flight_ != nullptr;
  }

  std::vector<v1::Frame> frames() const {
    absl::MutexLock lock(&mu_);
    return frames_;
  }

  // Every frame written so far, described, in order, space-separated.
  std::string Log() const {
    std::vector<std::string> parts;
    for (const v1::Frame& frame : frames()) parts.push_back(Describe(frame));
    return absl::StrJoin(parts, " ");
  }

  int overlapping_writes() const {
    absl::MutexLock lock(&mu_);
    return overlapping_writes_;
  }

  int changed_frames() const {
    absl::MutexLock lock(&mu_);
    return changed_frames_;
  }

 private:
  Outbox* outbox_ = nullptr;
  mutable absl::Mutex mu_;
  const v1::Frame* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<v1::Frame> frames_ ABSL_GUARDED_BY(mu_);
  int overlapping_writes_ ABSL_GUARDED_BY(mu_) = 0;
  int changed_frames_ ABSL_GUARDED_BY(mu_) = 0;
};

// An outbox writing to a FakeWriter; checks the writer's invariants at the
// end of each test.
class Harness {
 public:
  explicit Harness(Outbox::Options options = Outbox::Options())
      : outbox_(&writer_, options) {
    writer_.set_outbox(&outbox_);
  }

  ~Harness() {
    EXPECT_EQ(writer_.overlapping_writes(), 0)
        << "a write started while another was in flight";
    EXPECT_EQ(writer_.changed_frames(), 0)
        << "a frame changed while it was being written";
  }

  Outbox& outbox() { return outbox_; }
  FakeWriter& writer() { return writer_; }

  // Sends an integer payload with a deadline far enough to mean "hang".
  absl::Status Send(int64_t n) {
    return outbox_.SendData(Value::Int(n), absl::Now() + kHang);
  }

 private:
  FakeWriter writer_;
  Outbox outbox_;
};

Outbox::Options WithCapacity(size_t capacity) {
  Outbox::Options options;
  options.capacity = capacity;
  return options;
}

// Counts calls of the callbacks it hands out.
class CallCounter {
 public:
  std::function<void()> Callback() {
    return [this] {
      absl::MutexLock lock(&mu_);
      ++calls_;
    };
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

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
    h.outbox().SendControl(ender);
    EXPECT_EQ(h.Send(2).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(h.outbox().payloads_accepted(), 1u);
    h.writer().CompleteAll();
    EXPECT_EQ(h.Send(3).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(h.outbox().payloads_accepted(), 1u);
    EXPECT_EQ(h.writer().Log(), log);
  }
}

// ------------------------------------------------------------ flow control

TEST(OutboxTest, SendDataWaitsAtCapacityAndResumesWhenAWriteCompletes) {
  Harness h(WithCapacity(2));
  ASSERT_TRUE(h.Send(1).ok());  // In flight, not queued.
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());  // Two queued: full.

  absl::Notification sent;
  TaskGroup group;
  group.Spawn("sender", [&] {
    absl::Status status = h.Send(4);
    sent.Notify();
    return status;
  });
  EXPECT_FALSE(sent.WaitForNotificationWithTimeout(absl::Milliseconds(50)))
      << "SendData did not wait with `capacity` payloads queued";
  EXPECT_EQ(h.outbox().payloads_accepted(), 3u);

  // The batch (2, 3) leaves the queue: room for one more.
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_TRUE(sent.WaitForNotificationWithTimeout(kHang));
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(h.outbox().payloads_accepted(), 4u);
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2,3) yield(4)");
}

TEST(OutboxTest, BlockedSendDataReturnsTheCancelReason) {
  Harness h(WithCapacity(1));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());  // Full.

  TaskGroup group;
  group.Spawn("sender", [&] { return h.Send(3); });
  group.CancelAll(absl::CancelledError("stop sending"));
  EXPECT_EQ(group.Wait(), absl::CancelledError("stop sending"));
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2)");
}

TEST(OutboxTest, SendDataInACancelledScopeQueuesNothing) {
  Harness h;
  {
    CancelScope scope;
    scope.Cancel(absl::AbortedError("cancelled first"));
    EXPECT_EQ(h.Send(1), absl::AbortedError("cancelled first"));
  }
  EXPECT_EQ(h.outbox().payloads_accepted(), 0u);
  EXPECT_EQ(h.writer().Log(), "");
  EXPECT_FALSE(h.outbox().busy());
}

TEST(OutboxTest, BlockedSendDataReturnsDeadlineExceededAtItsDeadline) {
  Harness h(WithCapacity(1));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());  // Full.
  const absl::Time start = absl::Now();
  const absl::Duration wait = absl::Milliseconds(20);
  EXPECT_EQ(h.outbox().SendData(Value::Int(3), start + wait).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, wait);
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2)");
}

// -------------------------------------------------------- stream failure

TEST(OutboxTest, FailedWriteFailsBlockedAndLaterSendsAndDropsTheQueue) {
  Harness h(WithCapacity(1));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());  // Full.

  absl::Status blocked;
  TaskGroup group;
  group.Spawn("sender", [&] {
    blocked = h.Send(3);
    return absl::OkStatus();
  });
  ASSERT_TRUE(h.writer().Complete(/*ok=*/false));
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(blocked.code(), absl::StatusCode::kUnavailable) << blocked;

  const absl::Status later = h.Send(4);
  EXPECT_EQ(later.code(), absl::StatusCode::kUnavailable) << later;
  EXPECT_EQ(later, blocked);
  h.outbox().SendControl(StopFrame());
  EXPECT_FALSE(h.writer().in_flight());
  EXPECT_EQ(h.writer().Log(), "yield(1)");
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
}

TEST(OutboxTest, CloseFailsBlockedAndLaterSendsWithTheReasonAndDropsTheQueue) {
  Harness h(WithCapacity(1));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());  // Full.

  absl::Status blocked;
  TaskGroup group;
  group.Spawn("sender", [&] {
    blocked = h.Send(3);
    return absl::OkStatus();
  });
  h.outbox().Close(absl::AbortedError("peer gone"));
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(blocked, absl::AbortedError("peer gone"));
  EXPECT_EQ(h.Send(4), absl::AbortedError("peer gone"));

  // The write in flight completes; nothing queued goes out after it.
  h.outbox().SendControl(CancelFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1)");
  EXPECT_FALSE(h.outbox().busy());
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
}

// --------------------------------------------------------------- draining

TEST(OutboxTest, WhenDrainedFiresAtOnceWhenIdle) {
  Harness h;
  CallCounter drained;
  h.outbox().WhenDrained(drained.Callback());
  EXPECT_EQ(drained.calls(), 1);
}

TEST(OutboxTest, WhenDrainedFiresOnceWhenTheLastWriteCompletes) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  h.outbox().SendControl(StartedFrame());
  CallCounter drained;
  h.outbox().WhenDrained(drained.Callback());
  EXPECT_EQ(drained.calls(), 0);

  ASSERT_TRUE(h.writer().Complete());  // yield(1) done; started starts.
  EXPECT_EQ(drained.calls(), 0);
  ASSERT_TRUE(h.writer().Complete());  // started done; yield(2) starts.
  EXPECT_EQ(drained.calls(), 0);
  ASSERT_TRUE(h.writer().Complete());  // Idle.
  EXPECT_EQ(drained.calls(), 1);

  ASSERT_TRUE(h.Send(3).ok());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_EQ(drained.calls(), 1);
  EXPECT_EQ(h.writer().Log(), "yield(1) started yield(2) yield(3)");
}

TEST(OutboxTest, WhenDrainedReplacesACallbackThatHasNotRun) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  CallCounter first;
  CallCounter second;
  h.outbox().WhenDrained(first.Callback());
  h.outbox().WhenDrained(second.Callback());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_EQ(first.calls(), 0);
  EXPECT_EQ(second.calls(), 1);
}

TEST(OutboxTest, CloseRunsTheDrainedCallback) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  CallCounter drained;
  h.outbox().WhenDrained(drained.Callback());
  h.outbox().Close(absl::UnavailableError("stream ended"));
  EXPECT_EQ(drained.calls(), 1);
  h.writer().CompleteAll();
  EXPECT_EQ(drained.calls(), 1);
  EXPECT_EQ(h.writer().Log(), "yield(1)");
}

TEST(OutboxTest, FailedWriteRunsTheDrainedCallback) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  CallCounter drained;
  h.outbox().WhenDrained(drained.Callback());
  ASSERT_TRUE(h.writer().Complete(/*ok=*/false));
  EXPECT_EQ(drained.calls(), 1);
}

// After a failed write nothing is in flight or queued any more, and the
// stream has failed: the outbox is idle, so a callback registered now runs
// at once (a context that finishes after its stream broke registers one to
// finish the RPC).
TEST(OutboxTest, AfterAFailedWriteTheOutboxIsIdle) {
  Harness h;
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.writer().Complete(/*ok=*/false));
  EXPECT_FALSE(h.writer().in_flight());
  EXPECT_FALSE(h.outbox().busy());
  CallCounter drained;
  h.outbox().WhenDrained(drained.Callback());
  EXPECT_EQ(drained.calls(), 1);
}

// ----------------------------------------------------------------- state

TEST(OutboxTest, BusyReflectsAWriteInFlightOrQueuedData) {
  Harness h;
  EXPECT_FALSE(h.outbox().busy());
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  EXPECT_TRUE(h.outbox().busy());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_TRUE(h.outbox().busy());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.outbox().busy());
  h.outbox().SendControl(CancelFrame());
  EXPECT_TRUE(h.outbox().busy());
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.outbox().busy());
}

TEST(OutboxTest, PayloadsAcceptedCountsOnlyAcceptedSends) {
  Harness h(WithCapacity(1));
  EXPECT_EQ(h.outbox().payloads_accepted(), 0u);
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
  EXPECT_EQ(h.outbox().SendData(Value::Int(3), absl::InfinitePast()).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(h.outbox().payloads_accepted(), 2u);
  h.writer().CompleteAll();
  ASSERT_TRUE(h.Send(4).ok());
  EXPECT_EQ(h.outbox().payloads_accepted(), 3u);
  h.outbox().SendControl(StopFrame());
  EXPECT_FALSE(h.Send(5).ok());
  EXPECT_EQ(h.outbox().payloads_accepted(), 3u);
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) yield(2) yield(4) stop(3)");
}

}  // namespace
}  // namespace tether
