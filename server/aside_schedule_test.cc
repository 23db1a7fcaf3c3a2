#include "server/aside_schedule.h"

#include "gtest/gtest.h"

namespace tether {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(AsideScheduleTest, StartsAtTheShortestInterval) {
  AsideSchedule schedule(0, kStart);
  EXPECT_EQ(schedule.interval(), AsideSchedule::kMinInterval);
  EXPECT_FALSE(schedule.Quiet(kStart));
}

TEST(AsideScheduleTest, EmptyLooksDoubleUpToTheBusyCapWhileCallsCame) {
  AsideSchedule schedule(0, kStart);
  absl::Time now = kStart;
  for (int i = 0; i < 10; ++i) {
    now += schedule.interval();
    schedule.Looked(0, i, now);
    ASSERT_LT(now - kStart, AsideSchedule::kBusyWindow);
    EXPECT_LE(schedule.interval(), AsideSchedule::kBusyMaxInterval);
  }
  EXPECT_EQ(schedule.interval(), AsideSchedule::kBusyMaxInterval);
}

TEST(AsideScheduleTest, EmptyLooksBackOffToTheIdleCapOnceCallsStopped) {
  AsideSchedule schedule(0, kStart);
  absl::Time now = kStart;
  absl::Duration previous = schedule.interval();
  for (int i = 0; now - kStart < absl::Seconds(1); ++i) {
    now += schedule.interval();
    schedule.Looked(0, i, now);
    EXPECT_GE(schedule.interval(), previous);
    previous = schedule.interval();
  }
  EXPECT_EQ(schedule.interval(), AsideSchedule::kIdleMaxInterval);
}

TEST(AsideScheduleTest, ALookThatFindsACallReturnsToTheShortestInterval) {
  AsideSchedule schedule(0, kStart);
  absl::Time now = kStart + absl::Seconds(1);
  schedule.Looked(0, 1, now);
  schedule.Looked(0, 2, now);
  ASSERT_GT(schedule.interval(), AsideSchedule::kMinInterval);
  schedule.Looked(1, 3, now);
  EXPECT_EQ(schedule.interval(), AsideSchedule::kMinInterval);
}

TEST(AsideScheduleTest, QuietOnlyAfterTasksNotedNoEventForLongEnough) {
  AsideSchedule schedule(5, kStart);
  const absl::Time later = kStart + AsideSchedule::kQuietAfter;
  schedule.Looked(0, 6, later);
  EXPECT_FALSE(schedule.Quiet(later));
  schedule.Looked(0, 6, later + AsideSchedule::kQuietAfter / 2);
  EXPECT_FALSE(schedule.Quiet(later + AsideSchedule::kQuietAfter / 2));
  EXPECT_TRUE(schedule.Quiet(later + AsideSchedule::kQuietAfter));
}

TEST(AsideScheduleTest, RestartIsAFreshFind) {
  AsideSchedule schedule(0, kStart);
  const absl::Time later = kStart + absl::Seconds(1);
  schedule.Looked(0, 0, later);
  schedule.Looked(0, 0, later);
  EXPECT_TRUE(schedule.Quiet(later));
  schedule.Restart(0, later);
  EXPECT_EQ(schedule.interval(), AsideSchedule::kMinInterval);
  EXPECT_FALSE(schedule.Quiet(later));
}

}  // namespace
}  // namespace tether
