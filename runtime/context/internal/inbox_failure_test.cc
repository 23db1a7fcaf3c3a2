// Inbox: how it ends early. Fail, Discard, payloads that do not decode and
// cancelled receivers. The flow-control modes are in
// runtime/context/internal/inbox_test.cc.

#include <cstdint>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/context/internal/inbox.h"
#include "runtime/context/internal/inbox_test_util.h"
#include "runtime/context/internal/yield_wire.h"
#include "tether/task.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether {
namespace context_internal {
namespace inbox_test {
namespace {

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

// ----------------------------------------------------- malformed payloads

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
}  // namespace inbox_test
}  // namespace context_internal
}  // namespace tether
