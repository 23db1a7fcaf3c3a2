// Outbox: flow control (SendData waits at capacity), stream failure,
// draining and its state. Batching and control frames are in
// runtime/context/internal/outbox_test.cc.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/context/internal/outbox.h"
#include "runtime/context/internal/outbox_test_harness.h"
#include "tether/task.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether::context_internal::outbox_test {
namespace {

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
}  // namespace tether::context_internal::outbox_test
