#include "runtime/task/delayed_call.h"

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

// Long enough that reaching it means a call was lost.
constexpr absl::Duration kHang = absl::Seconds(30);

TEST(DelayedCallTest, RunsNoEarlierThanItsDeadline) {
  absl::Notification ran;
  absl::Time ran_at;
  const absl::Time deadline = absl::Now() + absl::Milliseconds(20);
  RunAt(deadline, [&] {
    ran_at = absl::Now();
    ran.Notify();
  });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kHang));
  EXPECT_GE(ran_at, deadline);
}

TEST(DelayedCallTest, RunsCallsInDeadlineOrderWhateverTheOrderAdded) {
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification last;
  const absl::Time now = absl::Now();
  RunAt(now + absl::Milliseconds(30), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(3);
    last.Notify();
  });
  RunAt(now + absl::Milliseconds(10), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(1);
  });
  RunAt(now + absl::Milliseconds(20), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(2);
  });
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(kHang));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(DelayedCallTest, AnEarlierDeadlineAddedLaterIsNotHeldUpByALaterOne) {
  // Shared: the late call outlives the test.
  auto late = std::make_shared<absl::Notification>();
  absl::Notification early;
  RunAt(absl::Now() + kHang, [late] { late->Notify(); });
  RunAt(absl::Now(), [&] { early.Notify(); });
  EXPECT_TRUE(early.WaitForNotificationWithTimeout(kHang));
  EXPECT_FALSE(late->HasBeenNotified());
}

TEST(DelayedCallTest, CallsMayBeAddedFromManyThreadsAndFromACall) {
  constexpr int kThreads = 4;
  absl::Mutex mu;
  int calls = 0;
  absl::Notification nested;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      RunAt(absl::Now(), [&] {
        absl::MutexLock lock(&mu);
        ++calls;
      });
    });
  }
  for (std::thread& thread : threads) thread.join();
  RunAt(absl::Now(), [&] { RunAt(absl::Now(), [&] { nested.Notify(); }); });
  ASSERT_TRUE(nested.WaitForNotificationWithTimeout(kHang));
  // Calls run in deadline order and the nested one was added last.
  absl::MutexLock lock(&mu);
  EXPECT_EQ(calls, kThreads);
}

}  // namespace
}  // namespace tether
