// Outbox with a linger: a burst's payloads wait for more while no write is
// in flight. The burst gap is set so that every send counts as part of a
// burst (an hour) or none does (zero), which keeps the tests independent of
// the machine's speed.

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/context/internal/outbox.h"
#include "runtime/context/internal/outbox_test_harness.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether::context_internal::outbox_test {
namespace {

Outbox::Options Lingering(absl::Duration burst_gap, size_t max_batch = 256) {
  Outbox::Options options;
  options.linger = absl::Microseconds(200);
  options.burst_gap = burst_gap;
  options.max_batch_payloads = max_batch;
  return options;
}

constexpr absl::Duration kAlwaysBurst = absl::Hours(1);

// The payload counts of the Yield frames written so far, in order.
std::vector<int> BatchSizes(const FakeWriter& writer) {
  std::vector<int> sizes;
  for (const v1::Frame& frame : writer.frames()) {
    if (frame.has_yield_batch()) {
      sizes.push_back(frame.yield_batch().values_size());
    }
  }
  return sizes;
}

TEST(OutboxLingerTest, TheFirstSendIsWrittenAtOnceAndTheBurstAfterItWaits) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  EXPECT_TRUE(h.writer().in_flight());
  ASSERT_TRUE(h.writer().Complete());

  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  EXPECT_FALSE(h.writer().in_flight()) << "the burst was not held back";
  EXPECT_EQ(h.writer().release_after_requests(), 1);
  EXPECT_EQ(h.writer().release_before_blocking_requests(), 1);

  h.outbox().ReleaseHold();
  h.writer().CompleteAll();
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 2}));
}

TEST(OutboxLingerTest, AFullBatchLeavesWithoutARelease) {
  Harness h(Lingering(kAlwaysBurst, /*max_batch=*/3));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  EXPECT_FALSE(h.writer().in_flight());
  ASSERT_TRUE(h.Send(4).ok());  // The batch is full.
  EXPECT_TRUE(h.writer().in_flight());
  h.writer().CompleteAll();
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 3}));
}

TEST(OutboxLingerTest, ACompletedWriteLeavesTheBurstToGrowUntilReleased) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.Send(2).ok());  // Queued behind the write in flight.
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.writer().in_flight()) << "the burst goes on: hold";
  EXPECT_EQ(h.writer().release_after_requests(), 1);
  ASSERT_TRUE(h.Send(3).ok());
  EXPECT_FALSE(h.writer().in_flight());

  h.outbox().ReleaseHold();
  h.writer().CompleteAll();
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 2}));
}

TEST(OutboxLingerTest, AReleaseWritesWhatIsHeldAndTheBurstGoesOn) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  h.outbox().ReleaseHold();
  EXPECT_TRUE(h.writer().in_flight());
  ASSERT_TRUE(h.Send(3).ok());  // Queued behind that write.
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.writer().in_flight()) << "the burst goes on: hold";
  h.outbox().ReleaseHold();
  h.writer().CompleteAll();
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 1, 1}));
}

TEST(OutboxLingerTest, TheSenderBlockingReleasesAndArmsTheNextBurstAgain) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  EXPECT_EQ(h.writer().release_before_blocking_requests(), 1);

  h.outbox().OnSenderBlocking();
  EXPECT_TRUE(h.writer().in_flight());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(4).ok());  // Starts a burst: written at once.
  ASSERT_TRUE(h.Send(5).ok());  // Continues it: the hook is asked for again.
  EXPECT_EQ(h.writer().release_before_blocking_requests(), 2);
  h.outbox().OnSenderBlocking();
  h.writer().CompleteAll();
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 2, 1, 1}));
}

TEST(OutboxLingerTest, OneReleaseTimerServesEveryHoldUntilItFires) {
  Harness h(Lingering(kAlwaysBurst, /*max_batch=*/2));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());  // Hold: a release is asked for.
  EXPECT_EQ(h.writer().release_after_requests(), 1);
  ASSERT_TRUE(h.Send(3).ok());  // Fills the batch, which leaves.
  ASSERT_TRUE(h.Send(4).ok());
  ASSERT_TRUE(h.writer().Complete());  // The burst goes on: hold again.
  EXPECT_FALSE(h.writer().in_flight());
  EXPECT_EQ(h.writer().release_after_requests(), 1) << "a timer per hold";

  h.outbox().ReleaseHold();  // The timer fires: 4 leaves.
  EXPECT_TRUE(h.writer().in_flight());
  ASSERT_TRUE(h.Send(5).ok());  // Queued behind that write.
  EXPECT_EQ(h.writer().release_after_requests(), 1) << "no hold yet";
  ASSERT_TRUE(h.writer().Complete());  // A new hold, a new timer.
  EXPECT_FALSE(h.writer().in_flight());
  EXPECT_EQ(h.writer().release_after_requests(), 2);
  h.outbox().ReleaseHold();
  h.writer().CompleteAll();
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 2, 1, 1}));
}

TEST(OutboxLingerTest, StopEndsTheHold) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  ASSERT_TRUE(h.Send(3).ok());
  h.outbox().SendControl(StopFrame());
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) stop(3) yield(2,3)");
}

TEST(OutboxLingerTest, ControlFramesOvertakeHeldDataWhichStaysHeld) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  h.outbox().SendControl(CancelFrame());
  EXPECT_TRUE(h.writer().in_flight()) << "a control frame waited";
  ASSERT_TRUE(h.writer().Complete());
  EXPECT_FALSE(h.writer().in_flight()) << "the burst goes on: hold";
  h.outbox().ReleaseHold();
  h.writer().CompleteAll();
  EXPECT_EQ(h.writer().Log(), "yield(1) cancel yield(2)");
}

TEST(OutboxLingerTest, WithoutABurstNothingIsHeld) {
  Harness h(Lingering(absl::ZeroDuration()));
  for (int64_t n = 1; n <= 3; ++n) {
    ASSERT_TRUE(h.Send(n).ok());
    EXPECT_TRUE(h.writer().in_flight());
    ASSERT_TRUE(h.writer().Complete());
  }
  EXPECT_EQ(h.writer().release_after_requests(), 0);
  EXPECT_EQ(h.writer().release_before_blocking_requests(), 0);
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1, 1, 1}));
}

TEST(OutboxLingerTest, WithoutALingerABurstIsWrittenAsToday) {
  Outbox::Options options;
  options.burst_gap = kAlwaysBurst;
  Harness h(options);
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  EXPECT_TRUE(h.writer().in_flight());
  EXPECT_EQ(h.writer().release_before_blocking_requests(), 0);
}

TEST(OutboxLingerTest, CloseDropsHeldDataAndAReleaseAfterwardsWritesNothing) {
  Harness h(Lingering(kAlwaysBurst));
  ASSERT_TRUE(h.Send(1).ok());
  ASSERT_TRUE(h.writer().Complete());
  ASSERT_TRUE(h.Send(2).ok());
  h.outbox().Close(absl::CancelledError("gone"));
  h.outbox().ReleaseHold();
  EXPECT_FALSE(h.writer().in_flight());
  EXPECT_EQ(BatchSizes(h.writer()), (std::vector<int>{1}));
}

}  // namespace
}  // namespace tether::context_internal::outbox_test
