#include "runtime/task.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

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
  std::atomic<bool> ran{false};
  BeforeNextBlock([&] { ran = true; });
  TaskGroup group;
  group.Spawn("other", [] { return Sleep(absl::Milliseconds(1)); });
  EXPECT_TRUE(group.Wait().ok());
  EXPECT_FALSE(ran) << "another task's block ran this thread's hook";
  EXPECT_TRUE(Sleep(absl::Milliseconds(1)).ok());
  EXPECT_TRUE(ran);
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
