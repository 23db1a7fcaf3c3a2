// Inbox: the flow-control modes, end of stream and the receive calls.
// Fail, Discard, malformed payloads and cancellation are in
// runtime/context/internal/inbox_failure_test.cc.

#include "runtime/context/internal/inbox.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/context/internal/inbox_test_util.h"
#include "tether/task.h"
#include "tether/value.h"

namespace tether {
namespace context_internal {
namespace inbox_test {
namespace {

// ---------------------------------------------------------------- kOverrun

TEST(InboxTest, OverrunDropsWhatDoesNotFitAndKeepsReading) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/3});
  EXPECT_EQ(inbox->Push(Ints(1, 5)), 2u);
  EXPECT_TRUE(inbox->ShouldRead());
  EXPECT_EQ(inbox->Push(Ints(6, 1)), 1u);
  EXPECT_TRUE(inbox->ShouldRead());
  EXPECT_FALSE(inbox->reading_paused());
  EXPECT_EQ(inbox->arrived(), 6u);

  EXPECT_EQ(TakeAllInts(*inbox), Range(1, 3));
  EXPECT_EQ(inbox->received(), 3u);

  // Room again: the next batch is kept whole.
  EXPECT_EQ(inbox->Push(Ints(7, 2)), 0u);
  EXPECT_EQ(TakeAllInts(*inbox), Range(7, 2));
  EXPECT_EQ(inbox.resumes(), 0);
}

TEST(InboxTest, OverrunCountsDroppedPayloadsTowardsEndOfStream) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/1});
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 1u);
  inbox->SetEnd(2);
  EXPECT_EQ(TakeInt(*inbox), 1);
  EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
            absl::OutOfRangeError("end of stream"));
}

// ---------------------------------------------------------- kAllowOverruns

TEST(InboxTest, AllowOverrunsSpillsIntoOverflowAndDeliversAllInOrder) {
  Inbox::Options options;
  options.mode = Inbox::Mode::kAllowOverruns;
  options.buffer_size = 2;
  options.overflow_capacity = 100;
  CountingInbox inbox(options);
  EXPECT_EQ(inbox->Push(Ints(1, 3)), 0u);
  EXPECT_EQ(inbox->Push(Ints(4, 4)), 0u);
  EXPECT_EQ(inbox->Push(Ints(8, 1)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
  EXPECT_EQ(inbox->arrived(), 8u);

  EXPECT_EQ(TakeAllInts(*inbox), Range(1, 8));
  EXPECT_EQ(inbox->received(), 8u);
  EXPECT_EQ(inbox.resumes(), 0);
}

TEST(InboxTest, AllowOverrunsStopsReadingWhenOverflowIsFullAndResumesOnce) {
  Inbox::Options options;
  options.mode = Inbox::Mode::kAllowOverruns;
  options.buffer_size = 2;
  options.overflow_capacity = 3;
  CountingInbox inbox(options);

  // Buffer [1, 2], overflow [3, 4]: still room.
  EXPECT_EQ(inbox->Push(Ints(1, 4)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
  // Overflow [3, 4, 5]: full.
  EXPECT_EQ(inbox->Push(Ints(5, 1)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());
  EXPECT_TRUE(inbox->reading_paused());
  // A batch read before the pause took effect is still kept, not dropped.
  EXPECT_EQ(inbox->Push(Ints(6, 1)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());
  EXPECT_EQ(inbox.resumes(), 0);

  // Overflow [4, 5, 6] after this one: still full.
  EXPECT_EQ(TakeInt(*inbox), 1);
  EXPECT_EQ(inbox.resumes(), 0);
  EXPECT_TRUE(inbox->reading_paused());
  // Overflow [5, 6]: room, so reading resumes, exactly once.
  EXPECT_EQ(TakeInt(*inbox), 2);
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_FALSE(inbox->reading_paused());

  EXPECT_EQ(TakeAllInts(*inbox), Range(3, 4));
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_TRUE(inbox->ShouldRead());
}

TEST(InboxTest, AllowOverrunsResumeComesFromABlockingReceiveToo) {
  Inbox::Options options;
  options.mode = Inbox::Mode::kAllowOverruns;
  options.buffer_size = 1;
  options.overflow_capacity = 1;
  CountingInbox inbox(options);
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());

  absl::StatusOr<Value> value = inbox->Receive(absl::Now() + kHang);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, Value::Int(1));
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_EQ(TakeInt(*inbox), 2);
  EXPECT_EQ(inbox.resumes(), 1);
}

TEST(InboxTest, AllowOverrunsWithholdsEndOfStreamUntilOverflowIsDrained) {
  Inbox::Options options;
  options.mode = Inbox::Mode::kAllowOverruns;
  options.buffer_size = 1;
  CountingInbox inbox(options);
  EXPECT_EQ(inbox->Push(Ints(1, 3)), 0u);
  inbox->SetEnd(3);
  EXPECT_FALSE(inbox->finished());
  EXPECT_EQ(TakeAllInts(*inbox), Range(1, 3));
  EXPECT_TRUE(inbox->finished());
  EXPECT_EQ(inbox->TryReceive().status(),
            absl::OutOfRangeError("end of stream"));
}

TEST(InboxTest, AllowOverrunsSwitchesOverrunModeToSpilling) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/2});
  inbox->AllowOverruns();
  EXPECT_EQ(inbox->Push(Ints(1, 5)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
  EXPECT_EQ(TakeAllInts(*inbox), Range(1, 5));
}

TEST(InboxTest, AllowOverrunsKeepsBackpressureMode) {
  CountingInbox inbox({Inbox::Mode::kBackpressure, /*buffer_size=*/2});
  inbox->AllowOverruns();
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  // Allowing overruns would keep reading into the overflow queue.
  EXPECT_FALSE(inbox->ShouldRead());
}

// ------------------------------------------------------------ kBackpressure

TEST(InboxTest, BackpressureStopsReadingWhenFullAndResumesAfterReceive) {
  CountingInbox inbox({Inbox::Mode::kBackpressure, /*buffer_size=*/2});
  EXPECT_EQ(inbox->Push(Ints(1, 1)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
  EXPECT_EQ(inbox->Push(Ints(2, 1)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());
  EXPECT_TRUE(inbox->reading_paused());
  EXPECT_EQ(inbox.resumes(), 0);

  EXPECT_EQ(TakeInt(*inbox), 1);
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_FALSE(inbox->reading_paused());
  EXPECT_TRUE(inbox->ShouldRead());

  EXPECT_EQ(TakeInt(*inbox), 2);
  EXPECT_EQ(inbox.resumes(), 1);
}

TEST(InboxTest, BackpressureKeepsABatchLargerThanTheRoomLeft) {
  CountingInbox inbox({Inbox::Mode::kBackpressure, /*buffer_size=*/2});
  EXPECT_EQ(inbox->Push(Ints(1, 1)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
  // The batch was read already: nothing is dropped.
  EXPECT_EQ(inbox->Push(Ints(2, 3)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());

  // Three left: still full.
  EXPECT_EQ(TakeInt(*inbox), 1);
  EXPECT_EQ(TakeInt(*inbox), 2);
  EXPECT_EQ(inbox.resumes(), 0);
  // One left: room.
  EXPECT_EQ(TakeInt(*inbox), 3);
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_EQ(TakeInt(*inbox), 4);
  EXPECT_EQ(inbox.resumes(), 1);
}

// ------------------------------------------------------------ end of stream

TEST(InboxTest, EndOfStreamOnlyAfterTheAnnouncedPayloadsArriveAndAreReceived) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  inbox->SetEnd(3);
  EXPECT_FALSE(inbox->finished());
  EXPECT_EQ(TakeInt(*inbox), 1);
  EXPECT_EQ(TakeInt(*inbox), 2);
  // Two of three arrived: no end yet.
  EXPECT_TRUE(IsEmptyNow(*inbox));
  EXPECT_FALSE(inbox->finished());

  EXPECT_EQ(inbox->Push(Ints(3, 1)), 0u);
  // Arrived but not received: still no end.
  EXPECT_FALSE(inbox->finished());
  EXPECT_EQ(TakeInt(*inbox), 3);
  EXPECT_TRUE(inbox->finished());
  EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
            absl::OutOfRangeError("end of stream"));
  // And it stays so.
  EXPECT_EQ(inbox->TryReceive().status(),
            absl::OutOfRangeError("end of stream"));
  EXPECT_EQ(inbox->received(), 3u);
}

TEST(InboxTest, EndOfStreamAnnouncedBeforeTheDataArrives) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  inbox->SetEnd(2);
  EXPECT_TRUE(IsEmptyNow(*inbox));
  EXPECT_EQ(inbox->Receive(absl::Now() + absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);

  EXPECT_EQ(inbox->Push(Ints(1, 1)), 0u);
  EXPECT_EQ(TakeInt(*inbox), 1);
  EXPECT_TRUE(IsEmptyNow(*inbox));
  EXPECT_EQ(inbox->Push(Ints(2, 1)), 0u);
  EXPECT_EQ(TakeInt(*inbox), 2);
  EXPECT_EQ(inbox->TryReceive().status(),
            absl::OutOfRangeError("end of stream"));
}

TEST(InboxTest, EndOfStreamWithNoData) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  inbox->SetEnd(0);
  EXPECT_TRUE(inbox->finished());
  EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
            absl::OutOfRangeError("end of stream"));
}

TEST(InboxTest, EndOfStreamWakesABlockedReceiver) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  absl::Status received;
  TaskGroup group;
  group.Spawn("receiver", [&] {
    received = inbox->Receive(absl::Now() + kHang).status();
    return absl::OkStatus();
  });
  inbox->SetEnd(0);
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(received, absl::OutOfRangeError("end of stream"));
}

// ---------------------------------------------------------- receive calls

TEST(InboxTest, TryReceiveOnAnEmptyInboxReturnsNothing) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  absl::StatusOr<std::optional<Value>> value = inbox->TryReceive();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_FALSE(value->has_value());
  EXPECT_EQ(inbox->received(), 0u);
}

TEST(InboxTest, ReceiveReturnsDeadlineExceededAtItsDeadline) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  const absl::Time start = absl::Now();
  const absl::Duration wait = absl::Milliseconds(20);
  EXPECT_EQ(inbox->Receive(start + wait).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, wait);
  EXPECT_LT(absl::Now() - start, kHang);
}

TEST(InboxTest, ReceiveWithAPastDeadlineStillTakesABufferedPayload) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(inbox->Push(Ints(5, 1)), 0u);
  absl::StatusOr<Value> value = inbox->Receive(absl::InfinitePast());
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, Value::Int(5));
}

TEST(InboxTest, PushFromAnotherThreadWakesABlockedReceiver) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  std::thread pusher([&inbox] { inbox->Push(Ints(42, 1)); });
  absl::StatusOr<Value> value = inbox->Receive(absl::Now() + kHang);
  pusher.join();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, Value::Int(42));
  EXPECT_EQ(inbox->received(), 1u);
}

TEST(InboxTest, ReceiversInOtherTasksGetEveryPayloadOnce) {
  CountingInbox inbox({Inbox::Mode::kBackpressure, /*buffer_size=*/4});
  constexpr int kReceivers = 4;
  constexpr int64_t kPerReceiver = 50;
  absl::Mutex mu;
  std::vector<int64_t> got;
  TaskGroup group;
  for (int r = 0; r < kReceivers; ++r) {
    group.Spawn("receiver", [&]() -> absl::Status {
      for (int64_t i = 0; i < kPerReceiver; ++i) {
        absl::StatusOr<Value> value = inbox->Receive(absl::Now() + kHang);
        if (!value.ok()) return value.status();
        absl::StatusOr<int64_t> n = value->AsInt();
        if (!n.ok()) return n.status();
        absl::MutexLock lock(&mu);
        got.push_back(*n);
      }
      return absl::OkStatus();
    });
  }
  for (int64_t i = 0; i < kReceivers * kPerReceiver; ++i) {
    inbox->Push(Ints(i, 1));
  }
  EXPECT_TRUE(group.Wait().ok());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, Range(0, kReceivers * kPerReceiver));
  EXPECT_TRUE(IsEmptyNow(*inbox));
}

}  // namespace
}  // namespace inbox_test
}  // namespace context_internal
}  // namespace tether
