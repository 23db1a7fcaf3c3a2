#include "tether/task.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/task/wait.h"

namespace tether {
namespace {

// Long enough that reaching it means a wake-up was lost.
constexpr absl::Duration kHang = absl::Seconds(30);

TEST(TaskTest, UncancelledSleepReturnsOkAfterItsTime) {
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Sleep(absl::Milliseconds(20)).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
}

TEST(TaskTest, CancelWakesABlockedSleepWithTheReason) {
  CancelScope scope;
  CancelHandle handle = scope.handle();
  std::thread canceller(
      [handle] { handle.Cancel(absl::AbortedError("stop now")); });
  const absl::Status status = Sleep(kHang);
  canceller.join();
  EXPECT_EQ(status, absl::AbortedError("stop now"));
  EXPECT_TRUE(scope.cancel_called());
}

TEST(TaskTest, OnlyTheFirstReasonCounts) {
  CancelScope scope;
  scope.Cancel(absl::AbortedError("first"));
  scope.Cancel(absl::InternalError("second"));
  EXPECT_EQ(scope.reason(), absl::AbortedError("first"));
  EXPECT_EQ(CheckCancelled(), absl::AbortedError("first"));
}

TEST(TaskTest, CancellingAnOuterScopeCancelsInnerOnes) {
  CancelScope outer;
  CancelScope inner;
  outer.Cancel(absl::CancelledError("outer"));
  EXPECT_TRUE(inner.cancel_called());
  EXPECT_EQ(CheckCancelled(), absl::CancelledError("outer"));
}

TEST(TaskTest, ExitingACancelledInnerScopeLeavesTheOuterRunning) {
  CancelScope outer;
  {
    CancelScope inner;
    inner.Cancel(absl::CancelledError("inner only"));
    EXPECT_FALSE(CheckCancelled().ok());
  }
  EXPECT_TRUE(CheckCancelled().ok());
  EXPECT_FALSE(outer.cancel_called());
}

TEST(TaskTest, ScopeOpenedInsideACancelledScopeStartsCancelled) {
  CancelScope outer;
  outer.Cancel(absl::CancelledError("already"));
  CancelScope inner;
  EXPECT_TRUE(inner.cancel_called());
}

TEST(TaskTest, AwaitLockedSeesNotifiedCondition) {
  absl::Mutex mu;
  WaitSet waiters;
  bool ready = false;
  std::thread producer([&] {
    absl::MutexLock lock(&mu);
    ready = true;
    waiters.NotifyAll();
  });
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(AwaitLocked(
                    mu, waiters, [&] { return ready; }, absl::Now() + kHang)
                    .ok());
    EXPECT_TRUE(waiters.empty());
  }
  producer.join();
}

// Returns once a task waits in AwaitLocked on `waiters`.
void AwaitWaiter(absl::Mutex& mu, const WaitSet& waiters) {
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](const WaitSet* set) { return !set->empty(); }, &waiters));
}

TEST(TaskTest, DeferredWakeupsWakeWhenTheOutermostScopeEnds) {
  absl::Mutex mu;
  WaitSet waiters;
  bool ready = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(AwaitLocked(
                    mu, waiters, [&] { return ready; }, absl::Now() + kHang)
                    .ok());
  });
  AwaitWaiter(mu, waiters);
  {
    const DeferredWakeups outer;
    {
      const DeferredWakeups inner;
      absl::MutexLock lock(&mu);
      ready = true;
      waiters.NotifyAll();
    }
  }
  waiter.join();
}

TEST(TaskTest, ADeferredWakeupMayOutliveTheTaskItWakes) {
  absl::Mutex mu;
  WaitSet waiters;
  CancelHandle waiter_scope;
  std::thread waiter([&] {
    CancelScope scope;
    absl::MutexLock lock(&mu);
    waiter_scope = scope.handle();
    EXPECT_EQ(AwaitLocked(
                  mu, waiters, [] { return false; }, absl::Now() + kHang),
              absl::CancelledError("gone"));
  });
  AwaitWaiter(mu, waiters);
  {
    const DeferredWakeups wakeups;
    {
      absl::MutexLock lock(&mu);
      waiters.NotifyAll();
    }
    // The task gives up waiting and its thread ends before the wake-up
    // leaves. With the handle (a weak reference) gone too, nothing but the
    // wake-up could keep the task's state; AddressSanitizer reports it if
    // the wake-up touches it freed.
    waiter_scope.Cancel(absl::CancelledError("gone"));
    waiter_scope = CancelHandle();
    waiter.join();
  }
}

TEST(TaskTest, AwaitLockedTimesOut) {
  absl::Mutex mu;
  WaitSet waiters;
  absl::MutexLock lock(&mu);
  const absl::Status status = AwaitLocked(
      mu, waiters, [] { return false; }, absl::Now() + absl::Milliseconds(10));
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
}

TEST(TaskTest, CancelledTaskDoesNotTakeAReadyValue) {
  absl::Mutex mu;
  WaitSet waiters;
  CancelScope scope;
  scope.Cancel(absl::CancelledError("gone"));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(AwaitLocked(
                mu, waiters, [] { return true; }, absl::InfiniteFuture()),
            absl::CancelledError("gone"));
}

TEST(TaskTest, BeforeNextBlockRunsItsHooksInOrderBeforeTheTaskBlocks) {
  std::vector<int> ran;
  BeforeNextBlock([&] { ran.push_back(1); });
  BeforeNextBlock([&] { ran.push_back(2); });
  EXPECT_TRUE(ran.empty()) << "a hook ran before the task blocked";
  EXPECT_TRUE(CheckCancelled().ok());  // Does not block.
  EXPECT_TRUE(ran.empty());
  EXPECT_TRUE(Sleep(absl::Milliseconds(1)).ok());
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_TRUE(Sleep(absl::Milliseconds(1)).ok());
  EXPECT_EQ(ran, (std::vector<int>{1, 2})) << "a hook ran twice";
}

TEST(TaskTest, BeforeNextBlockHooksRunWhenTheTaskEndsWithoutBlocking) {
  std::atomic<bool> ran{false};
  TaskGroup group;
  group.Spawn("brief", [&] {
    BeforeNextBlock([&] { ran = true; });
    return absl::OkStatus();
  });
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_TRUE(ran);
}

TEST(TaskTest, ABeforeNextBlockHookBelongsToTheThreadThatAddedIt) {
  absl::Mutex mu;
  std::vector<std::thread::id> ran_on;
  BeforeNextBlock([&] {
    absl::MutexLock lock(&mu);
    ran_on.push_back(std::this_thread::get_id());
  });
  TaskGroup group;
  group.Spawn("other", [] { return Sleep(absl::Milliseconds(1)); });
  // Joining is a block of this thread: the hook runs here, and only here.
  EXPECT_TRUE(group.Wait().ok());
  absl::MutexLock lock(&mu);
  EXPECT_THAT(ran_on, testing::ElementsAre(std::this_thread::get_id()))
      << "the hook ran on another task's block, or not once";
}

// A TaskPoller without gRPC: events are functions posted from any thread;
// PollOnce runs one on the polling thread. Counts the threads polling at
// once and the kicks.
class FakePoller final : public TaskPoller {
 public:
  void Post(std::function<void()> event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }

  bool PollOnce(absl::Time deadline) override {
    std::function<void()> event;
    {
      absl::MutexLock lock(&mu_);
      max_pollers_ = std::max(max_pollers_, ++pollers_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !events_.empty() || kicked_;
      };
      mu_.AwaitWithDeadline(absl::Condition(&has_work), deadline);
      kicked_ = false;
      if (!events_.empty()) {
        event = std::move(events_.front());
        events_.pop_front();
      }
      --pollers_;
    }
    if (event) event();
    return static_cast<bool>(event);
  }

  void Kick() override {
    absl::MutexLock lock(&mu_);
    kicked_ = true;
    ++kicks_;
  }

  int max_pollers() {
    absl::MutexLock lock(&mu_);
    return max_pollers_;
  }
  int kicks() {
    absl::MutexLock lock(&mu_);
    return kicks_;
  }

 private:
  absl::Mutex mu_;
  std::deque<std::function<void()>> events_ ABSL_GUARDED_BY(mu_);
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  int pollers_ ABSL_GUARDED_BY(mu_) = 0;
  int max_pollers_ ABSL_GUARDED_BY(mu_) = 0;
  int kicks_ ABSL_GUARDED_BY(mu_) = 0;
};

// A flag that tasks wait for and events set.
struct Flag {
  absl::Mutex mu;
  WaitSet waiters ABSL_GUARDED_BY(mu);
  bool set ABSL_GUARDED_BY(mu) = false;

  void Set() {
    absl::MutexLock lock(&mu);
    set = true;
    waiters.NotifyAll();
  }
  absl::Status Await() {
    absl::MutexLock lock(&mu);
    return AwaitLocked(
        mu, waiters, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return set; },
        absl::Now() + absl::Seconds(10));
  }
};

TEST(TaskPollerTest, AWaitingTaskHandlesTheEventThatWakesIt) {
  auto poller = std::make_shared<FakePoller>();
  SetTaskPoller(poller);
  Flag flag;
  std::thread::id handled_on;
  std::thread poster([&] {
    poller->Post([&] {
      handled_on = std::this_thread::get_id();
      flag.Set();
    });
  });
  EXPECT_TRUE(flag.Await().ok());
  poster.join();
  EXPECT_EQ(handled_on, std::this_thread::get_id());
  SetTaskPoller(nullptr);
}

TEST(TaskPollerTest, CancellingAPollingTaskKicksItsPoller) {
  auto poller = std::make_shared<FakePoller>();
  SetTaskPoller(poller);
  Flag never;
  CancelScope scope;
  std::thread canceller([&] {
    // Cancels once the task is inside PollOnce, which has no event to
    // return: only a kick can wake it.
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (poller->max_pollers() == 0 && absl::Now() < give_up) {
      std::this_thread::yield();
    }
    scope.Cancel(absl::CancelledError("stop"));
  });
  EXPECT_EQ(never.Await(), absl::CancelledError("stop"));
  canceller.join();
  EXPECT_GE(poller->kicks(), 1);
  SetTaskPoller(nullptr);
}

// Two tasks wait on objects whose events come through one poller: one
// polls at a time, and when it leaves the other takes over.
TEST(TaskPollerTest, OneTaskPollsAtATimeAndAnotherTakesOver) {
  auto poller = std::make_shared<FakePoller>();
  Flag first;
  Flag second;
  first.waiters.SetPoller(poller);
  second.waiters.SetPoller(poller);
  TaskGroup group;
  group.Spawn("first", [&] { return first.Await(); });
  group.Spawn("second", [&] { return second.Await(); });
  poller->Post([&] { first.Set(); });
  poller->Post([&] { second.Set(); });
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(poller->max_pollers(), 1);
}

TEST(TaskPollerTest, PollReadyHandlesWhatIsReadyWithoutWaiting) {
  auto poller = std::make_shared<FakePoller>();
  int handled = 0;
  poller->Post([&] { ++handled; });
  poller->Post([&] { ++handled; });
  PollReady(*poller);
  EXPECT_EQ(handled, 2);
}

TEST(TaskGroupTest, WaitJoinsEveryTaskAndReportsTheFirstFailure) {
  std::atomic<int> ran{0};
  TaskGroup group;
  group.Spawn("ok", [&] {
    ++ran;
    return absl::OkStatus();
  });
  group.Spawn("fails", [&] {
    ++ran;
    return absl::InternalError("boom");
  });
  EXPECT_EQ(group.Wait(), absl::InternalError("boom"));
  EXPECT_EQ(ran.load(), 2);
}

TEST(TaskGroupTest, TasksKnowTheirNames) {
  std::string seen;
  TaskGroup group;
  group.Spawn("named-task", [&] {
    seen = CurrentTaskName();
    return absl::OkStatus();
  });
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_EQ(seen, "named-task");
}

TEST(TaskGroupTest, CancelAllStopsBlockedTasksButNotTheCreator) {
  TaskGroup group;
  absl::Notification started;
  group.Spawn("sleeper", [&] {
    started.Notify();
    return Sleep(kHang);
  });
  started.WaitForNotification();
  group.CancelAll(absl::CancelledError("shutdown"));
  EXPECT_EQ(group.Wait(), absl::CancelledError("shutdown"));
  EXPECT_TRUE(CheckCancelled().ok());
}

TEST(TaskGroupTest, FailureCancelsSiblingsWhenAsked) {
  TaskGroup group(/*cancel_on_error=*/true);
  absl::Status sibling_saw;
  group.Spawn("sibling", [&] {
    sibling_saw = Sleep(kHang);
    return absl::OkStatus();
  });
  group.Spawn("failer", [] { return absl::DataLossError("bad"); });
  EXPECT_EQ(group.Wait(), absl::DataLossError("bad"));
  EXPECT_EQ(sibling_saw, absl::DataLossError("bad"));
}

TEST(TaskGroupTest, CancellingTheEnclosingScopeCancelsTheTasks) {
  CancelScope scope;
  TaskGroup group;
  absl::Notification started;
  group.Spawn("child", [&] {
    started.Notify();
    return Sleep(kHang);
  });
  started.WaitForNotification();
  scope.Cancel(absl::CancelledError("parent cancelled"));
  EXPECT_EQ(group.Wait(), absl::CancelledError("parent cancelled"));
}

TEST(TaskGroupTest, TaskSpawnedAfterCancelAllStartsCancelled) {
  TaskGroup group;
  group.CancelAll(absl::CancelledError("closed"));
  group.Spawn("late", [] { return CheckCancelled(); });
  EXPECT_EQ(group.Wait(), absl::CancelledError("closed"));
}

// Run in a process that may start no thread: what went wrong, or "".
std::string SpawnWithoutThreads() {
  // RLIMIT_NPROC does not bind root, so leave it first (for "nobody").
  if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
    return "cannot leave root";
  }
  const rlimit none = {0, 0};
  if (setrlimit(RLIMIT_NPROC, &none) != 0) return "setrlimit failed";
  std::atomic<bool> ran{false};
  const auto body = [&ran] {
    ran = true;
    return absl::OkStatus();
  };
  TaskGroup group;
  const absl::Status spawned = group.TrySpawn("unstartable", body);
  if (!absl::IsResourceExhausted(spawned) ||
      !absl::StrContains(spawned.message(), "unstartable")) {
    return "TrySpawn: " + spawned.ToString();
  }
  group.Spawn("also unstartable", body);
  const absl::Status waited = group.Wait();
  if (!absl::IsResourceExhausted(waited) ||
      !absl::StrContains(waited.message(), "also unstartable")) {
    return "Wait: " + waited.ToString();
  }
  if (ran) return "a task ran";
  return "";
}

// A task whose thread cannot be created is refused, not lost: TrySpawn says
// ResourceExhausted, Spawn leaves that for Wait(), and Wait() does not wait
// for it. In a child process (a death test re-runs this binary), so that the
// thread limit binds nothing else.
TEST(TaskGroupDeathTest, ATaskWithoutAThreadIsResourceExhausted) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const std::string problem = SpawnWithoutThreads();
        std::fprintf(stderr, "%s\n", problem.c_str());
        _exit(problem.empty() ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace tether
