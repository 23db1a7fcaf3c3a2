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

TEST(AsideScheduleTest, KeepsTheShortestIntervalWhileCallsKeepComing) {
  AsideSchedule schedule(0, kStart);
  absl::Time now = kStart;
  for (int i = 0; i < 100; ++i) {
    now += schedule.interval();
    schedule.Looked(i % 8 == 0 ? 1 : 0, i, now);
    EXPECT_EQ(schedule.interval(), AsideSchedule::kMinInterval) << i;
  }
}

TEST(AsideScheduleTest, TheIntervalIsAShareOfTheTimeSinceTheLastFind) {
  AsideSchedule schedule(0, kStart);
  const absl::Duration pause = absl::Milliseconds(4);
  schedule.Looked(0, 0, kStart + pause);
  EXPECT_EQ(schedule.interval(), pause / AsideSchedule::kWaitShare);
  ASSERT_GT(schedule.interval(), AsideSchedule::kMinInterval);
  ASSERT_LT(schedule.interval(), AsideSchedule::kMaxInterval);
}

TEST(AsideScheduleTest, EmptyLooksBackOffToTheLongestInterval) {
  AsideSchedule schedule(0, kStart);
  absl::Time now = kStart;
  absl::Duration previous = schedule.interval();
  int looks = 0;
  for (; now - kStart < absl::Seconds(1); ++looks) {
    now += schedule.interval();
    schedule.Looked(0, looks, now);
    EXPECT_GE(schedule.interval(), previous);
    previous = schedule.interval();
  }
  EXPECT_EQ(schedule.interval(), AsideSchedule::kMaxInterval);
  // The header's count: ~75 looks in the first 16 ms, then one per 1 ms.
  EXPECT_GT(looks, 984 + 60);
  EXPECT_LT(looks, 984 + 90);
}

TEST(AsideScheduleTest, ALookThatFindsACallReturnsToTheShortestInterval) {
  AsideSchedule schedule(0, kStart);
  absl::Time now = kStart + absl::Seconds(1);
  schedule.Looked(0, 1, now);
  ASSERT_EQ(schedule.interval(), AsideSchedule::kMaxInterval);
  schedule.Looked(1, 2, now);
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

TEST(AsideScheduleTest, NewTaskEventsAreNoFind) {
  // Stepped aside long after the last find: tasks got busy, which says
  // nothing about calls, so the looks keep the pace of that find.
  AsideSchedule schedule(0, kStart);
  const absl::Time later = kStart + absl::Seconds(1);
  schedule.Looked(0, 0, later);
  EXPECT_TRUE(schedule.Quiet(later));
  schedule.Looked(0, 1, later);
  EXPECT_FALSE(schedule.Quiet(later));
  EXPECT_EQ(schedule.interval(), AsideSchedule::kMaxInterval);
}

}  // namespace
}  // namespace tether
