#include "runtime/inbox.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <ostream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "runtime/yield_wire.h"
#include "tether/v1/frame.pb.h"

namespace tether {

// Failure messages show values as JSON.
void PrintTo(const Value& value, std::ostream* os) { *os << value.ToJson(); }

namespace {

// Long enough that reaching it means a wake-up was lost.
constexpr absl::Duration kHang = absl::Seconds(30);

// A batch as it comes off the wire: the payloads first, first + 1, ...,
// count of them.
YieldBatch Ints(int64_t first, int64_t count) {
  YieldFrameBuilder frame;
  for (int64_t i = 0; i < count; ++i) frame.Append(Value::Int(first + i));
  const std::string bytes = std::move(frame).Finish();
  absl::StatusOr<YieldBatch> batch =
      YieldBatch::Parse(std::string(*LoneYieldOf(bytes)));
  EXPECT_TRUE(batch.ok()) << batch.status();
  return *std::move(batch);
}

// An inbox whose resume callback counts its calls.
class CountingInbox {
 public:
  explicit CountingInbox(Inbox::Options options)
      : inbox_(options, [this] { ++resumes_; }) {}

  Inbox& operator*() { return inbox_; }
  Inbox* operator->() { return &inbox_; }
  int resumes() const { return resumes_.load(); }

 private:
  std::atomic<int> resumes_{0};
  Inbox inbox_;
};

// The next buffered payload as an integer, without waiting; a test failure
// (and -1) when there is none or it is not an integer.
int64_t TakeInt(Inbox& inbox) {
  absl::StatusOr<std::optional<Value>> value = inbox.TryReceive();
  if (!value.ok()) {
    ADD_FAILURE() << "TryReceive failed: " << value.status();
    return -1;
  }
  if (!value->has_value()) {
    ADD_FAILURE() << "TryReceive found nothing buffered";
    return -1;
  }
  absl::StatusOr<int64_t> n = (*value)->AsInt();
  if (!n.ok()) {
    ADD_FAILURE() << n.status();
    return -1;
  }
  return *n;
}

// Every payload buffered now, as integers, in the order received.
std::vector<int64_t> TakeAllInts(Inbox& inbox) {
  std::vector<int64_t> out;
  while (true) {
    absl::StatusOr<std::optional<Value>> value = inbox.TryReceive();
    if (!value.ok() || !value->has_value()) return out;
    absl::StatusOr<int64_t> n = (*value)->AsInt();
    out.push_back(n.ok() ? *n : -1);
  }
}

std::vector<int64_t> Range(int64_t first, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(first + i);
  return out;
}

bool IsEmptyNow(Inbox& inbox) {
  absl::StatusOr<std::optional<Value>> value = inbox.TryReceive();
  return value.ok() && !value->has_value();
}

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

TEST(InboxTest, APayloadThatDoesNotDecodeFailsTheInboxThroughTheCallback) {
  v1::Yield yield;
  *yield.add_values() = Value::Int(1).ToProto();
  yield.add_values()->set_message("");  // No type URL to inherit.
  *yield.add_values() = Value::Int(3).ToProto();
  absl::Status reported;
  Inbox inbox(
      {Inbox::Mode::kOverrun, 8}, [] {},
      [&](const absl::Status& error) { reported = error; });
  absl::StatusOr<YieldBatch> batch =
      YieldBatch::Parse(yield.SerializeAsString());
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(inbox.Push(*std::move(batch)), 0u);
  EXPECT_EQ(TakeInt(inbox), 1);
  const absl::StatusOr<Value> bad = inbox.Receive(absl::Now() + kHang);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reported, bad.status());
  // The payload behind it is dropped with the inbox: nothing is delivered
  // after a malformed payload.
  EXPECT_EQ(inbox.Receive(absl::Now() + kHang).status(), bad.status());
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

// ------------------------------------------------------------------- Fail

TEST(InboxTest, FailOvertakesBufferedDataAndReturnsTheDroppedCount) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(inbox->Push(Ints(1, 3)), 0u);
  inbox->SetEnd(3);
  EXPECT_EQ(inbox->Fail(absl::AbortedError("peer failed")), 3u);
  EXPECT_TRUE(inbox->finished());
  EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
            absl::AbortedError("peer failed"));
  EXPECT_EQ(inbox->TryReceive().status(), absl::AbortedError("peer failed"));
  EXPECT_EQ(inbox->received(), 0u);
}

TEST(InboxTest, FailCountsOverflowToo) {
  Inbox::Options options;
  options.mode = Inbox::Mode::kAllowOverruns;
  options.buffer_size = 2;
  CountingInbox inbox(options);
  EXPECT_EQ(inbox->Push(Ints(1, 5)), 0u);
  EXPECT_EQ(inbox->Fail(absl::InternalError("boom")), 5u);
}

TEST(InboxTest, FirstErrorWinsAndLaterPushesAreDropped) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(inbox->Fail(absl::AbortedError("first")), 0u);
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  EXPECT_EQ(inbox->arrived(), 2u);
  EXPECT_EQ(inbox->Fail(absl::InternalError("second")), 0u);
  EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
            absl::AbortedError("first"));
  EXPECT_EQ(inbox->received(), 0u);
}

TEST(InboxTest, FailWakesABlockedReceiver) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  absl::Status received;
  TaskGroup group;
  group.Spawn("receiver", [&] {
    received = inbox->Receive(absl::Now() + kHang).status();
    return absl::OkStatus();
  });
  EXPECT_EQ(inbox->Fail(absl::UnavailableError("gone")), 0u);
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(received, absl::UnavailableError("gone"));
}

TEST(InboxTest, FailResumesPausedReading) {
  CountingInbox inbox({Inbox::Mode::kBackpressure, /*buffer_size=*/1});
  EXPECT_EQ(inbox->Push(Ints(1, 1)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());
  EXPECT_EQ(inbox->Fail(absl::AbortedError("stop")), 1u);
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_FALSE(inbox->reading_paused());
  // Later data is dropped, so reading never stops again.
  EXPECT_EQ(inbox->Push(Ints(2, 3)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
}

// ---------------------------------------------------------------- Discard

TEST(InboxTest, DiscardDropsBufferedAndLaterDataButStillEndsTheStream) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  inbox->SetEnd(4);
  EXPECT_EQ(inbox->Discard(), 2u);
  EXPECT_TRUE(IsEmptyNow(*inbox));

  EXPECT_EQ(inbox->Push(Ints(3, 1)), 0u);
  EXPECT_TRUE(IsEmptyNow(*inbox));
  EXPECT_FALSE(inbox->finished());
  EXPECT_EQ(inbox->arrived(), 3u);

  // The fourth payload arrives and is skipped undecoded.
  EXPECT_TRUE(inbox->DropIfUnwanted(1));
  EXPECT_EQ(inbox->arrived(), 4u);
  EXPECT_TRUE(inbox->finished());
  EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
            absl::OutOfRangeError("end of stream"));
  EXPECT_EQ(inbox->received(), 0u);
}

TEST(InboxTest, DiscardResumesPausedReadingAndKeepsReading) {
  CountingInbox inbox({Inbox::Mode::kBackpressure, /*buffer_size=*/2});
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());
  EXPECT_EQ(inbox->Discard(), 2u);
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_FALSE(inbox->reading_paused());

  EXPECT_EQ(inbox->Push(Ints(3, 5)), 0u);
  EXPECT_TRUE(inbox->ShouldRead());
  EXPECT_TRUE(IsEmptyNow(*inbox));
  EXPECT_EQ(inbox.resumes(), 1);
}

TEST(InboxTest, DiscardOfAFullOverflowResumesReading) {
  Inbox::Options options;
  options.mode = Inbox::Mode::kAllowOverruns;
  options.buffer_size = 1;
  options.overflow_capacity = 1;
  CountingInbox inbox(options);
  EXPECT_EQ(inbox->Push(Ints(1, 2)), 0u);
  EXPECT_FALSE(inbox->ShouldRead());
  EXPECT_EQ(inbox->Discard(), 2u);
  EXPECT_EQ(inbox.resumes(), 1);
  EXPECT_TRUE(inbox->ShouldRead());
}

TEST(InboxTest, DropIfUnwantedCountsOnlyAfterFailOrDiscard) {
  CountingInbox wanted({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_FALSE(wanted->DropIfUnwanted(3));
  EXPECT_EQ(wanted->arrived(), 0u);

  CountingInbox failed({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  failed->Fail(absl::AbortedError("x"));
  EXPECT_TRUE(failed->DropIfUnwanted(3));
  EXPECT_EQ(failed->arrived(), 3u);

  CountingInbox discarded({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(discarded->Discard(), 0u);
  EXPECT_TRUE(discarded->DropIfUnwanted(2));
  EXPECT_EQ(discarded->arrived(), 2u);
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

// ------------------------------------------------------------ cancellation

TEST(InboxTest, CancelledReceiveReturnsTheReasonAndLeavesTheValue) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  EXPECT_EQ(inbox->Push(Ints(7, 1)), 0u);
  {
    CancelScope scope;
    scope.Cancel(absl::CancelledError("go away"));
    EXPECT_EQ(inbox->Receive(absl::Now() + kHang).status(),
              absl::CancelledError("go away"));
    EXPECT_EQ(inbox->TryReceive().status(), absl::CancelledError("go away"));
  }
  EXPECT_EQ(inbox->received(), 0u);
  EXPECT_EQ(TakeInt(*inbox), 7);
}

TEST(InboxTest, CancelFromAnotherThreadWakesABlockedReceive) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  absl::Status status;
  {
    CancelScope scope;
    CancelHandle handle = scope.handle();
    std::thread canceller(
        [handle] { handle.Cancel(absl::AbortedError("shutting down")); });
    const absl::Time start = absl::Now();
    status = inbox->Receive(start + kHang).status();
    canceller.join();
    EXPECT_LT(absl::Now() - start, kHang);
  }
  EXPECT_EQ(status, absl::AbortedError("shutting down"));
  // A payload pushed afterwards goes to the next receiver.
  EXPECT_EQ(inbox->Push(Ints(9, 1)), 0u);
  EXPECT_EQ(TakeInt(*inbox), 9);
}

TEST(InboxTest, CancellingAReceiverTaskWakesIt) {
  CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
  absl::Status received;
  TaskGroup group;
  group.Spawn("receiver", [&] {
    received = inbox->Receive(absl::Now() + kHang).status();
    return received;
  });
  group.CancelAll(absl::CancelledError("group done"));
  EXPECT_EQ(group.Wait(), absl::CancelledError("group done"));
  EXPECT_EQ(received, absl::CancelledError("group done"));
}

// A push and a cancel race against a blocked receiver: it either takes the
// value or returns the reason, and in the latter case the value is still
// there for the next receiver. Never both, never neither.
TEST(InboxTest, CancelRacingAPushNeverLosesOrDuplicatesTheValue) {
  for (int round = 0; round < 50; ++round) {
    CountingInbox inbox({Inbox::Mode::kOverrun, /*buffer_size=*/8});
    absl::StatusOr<Value> received;
    TaskGroup group;
    group.Spawn("receiver", [&] {
      received = inbox->Receive(absl::Now() + kHang);
      return absl::OkStatus();
    });
    inbox->Push(Ints(round, 1));
    group.CancelAll(absl::CancelledError("race"));
    ASSERT_TRUE(group.Wait().ok());

    absl::StatusOr<std::optional<Value>> left = inbox->TryReceive();
    ASSERT_TRUE(left.ok()) << left.status();
    if (received.ok()) {
      EXPECT_EQ(*received, Value::Int(round));
      EXPECT_FALSE(left->has_value()) << "round " << round;
    } else {
      EXPECT_EQ(received.status(), absl::CancelledError("race"));
      ASSERT_TRUE(left->has_value()) << "round " << round << ": value lost";
      EXPECT_EQ(**left, Value::Int(round));
    }
    EXPECT_EQ(inbox->received(), 1u);
  }
}

}  // namespace
}  // namespace tether
