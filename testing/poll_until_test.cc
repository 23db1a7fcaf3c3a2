#include "testing/poll_until.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

TEST(PollUntilTest, TrueOnceTheConditionHolds) {
  int looks = 0;
  EXPECT_TRUE(PollUntil(
      absl::Now() + absl::Seconds(10), [&] { return ++looks == 3; },
      absl::ZeroDuration()));
  EXPECT_EQ(looks, 3);
}

TEST(PollUntilTest, FalseAtTheDeadlineAfterALastLook) {
  int looks = 0;
  const absl::Time deadline = absl::Now() + absl::Milliseconds(20);
  EXPECT_FALSE(PollUntil(deadline, [&] {
    ++looks;
    return false;
  }));
  EXPECT_GE(absl::Now(), deadline);
  EXPECT_GE(looks, 2);
}

TEST(PollUntilTest, APassedDeadlineStillLooksOnce) {
  int looks = 0;
  EXPECT_TRUE(PollUntil(absl::InfinitePast(), [&] { return ++looks == 1; }));
  EXPECT_EQ(looks, 1);
}

}  // namespace
}  // namespace tether
