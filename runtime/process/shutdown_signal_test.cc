#include "runtime/process/shutdown_signal.h"

#include <signal.h>

#include <thread>

#include "gtest/gtest.h"

namespace tether {
namespace {

// Each test installs before creating any thread, as the contract requires;
// gtest itself runs single-threaded.

TEST(ShutdownSignalTest, RequestWakesWaitWithItsReason) {
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  ASSERT_TRUE(stop.ok()) << stop.status();
  std::thread requester([&] { (*stop)->Request("cancelled by test"); });
  EXPECT_EQ((*stop)->Wait(), "cancelled by test");
  requester.join();
  EXPECT_EQ((*stop)->Wait(), "cancelled by test");
}

TEST(ShutdownSignalTest, FirstReasonWins) {
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  ASSERT_TRUE(stop.ok()) << stop.status();
  (*stop)->Request("first");
  (*stop)->Request("second");
  EXPECT_EQ((*stop)->Wait(), "first");
}

TEST(ShutdownSignalTest, SigtermIsReceivedNotFatal) {
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  ASSERT_TRUE(stop.ok()) << stop.status();
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_EQ((*stop)->Wait(), "SIGTERM");
}

TEST(ShutdownSignalTest, SigintIsReceivedNotFatal) {
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  ASSERT_TRUE(stop.ok()) << stop.status();
  ASSERT_EQ(kill(getpid(), SIGINT), 0);
  EXPECT_EQ((*stop)->Wait(), "SIGINT");
}

TEST(ShutdownSignalTest, WaitForAnotherSeesALaterSignal) {
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  ASSERT_TRUE(stop.ok()) << stop.status();
  (*stop)->Request("cancelled");
  EXPECT_EQ((*stop)->Wait(), "cancelled");
  EXPECT_FALSE((*stop)->WaitForAnother(absl::ZeroDuration()));
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  // Pending already: a zero timeout must still see it.
  EXPECT_TRUE((*stop)->WaitForAnother(absl::ZeroDuration()));
  EXPECT_FALSE((*stop)->WaitForAnother(absl::Milliseconds(10)));
}

}  // namespace
}  // namespace tether
