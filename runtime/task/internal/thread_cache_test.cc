#include "runtime/task/internal/thread_cache.h"

#include <pthread.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "testing/poll_until.h"

namespace tether {
namespace task_internal {
namespace {

// Long enough that reaching it means something was lost.
constexpr absl::Duration kHang = absl::Seconds(30);

// The threads RunAndWait has run work on so far, in this process.
absl::Mutex seen_mu;
std::set<pthread_t>& Seen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(seen_mu) {
  static auto* seen = new std::set<pthread_t>();
  return *seen;
}

size_t ThreadsSeen() {
  absl::MutexLock lock(&seen_mu);
  return Seen().size();
}

// Runs `work` through the cache and waits until it has run; returns the
// thread it ran on.
pthread_t RunAndWait(std::function<void()> work) {
  pthread_t ran_on{};
  absl::Notification done;
  EXPECT_TRUE(ThreadCache::Run([&] {
                work();
                ran_on = pthread_self();
                done.Notify();
              }).ok());
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(kHang));
  absl::MutexLock lock(&seen_mu);
  Seen().insert(ran_on);
  return ran_on;
}

// Polls `condition` until it holds or kHang has passed; whether it held.
bool Eventually(absl::FunctionRef<bool()> condition) {
  return PollUntil(absl::Now() + kHang, condition, absl::Milliseconds(1));
}

// Waits until `n` threads are idle.
bool AwaitIdle(size_t n) {
  return Eventually([n] { return ThreadCache::idle() >= n; });
}

TEST(ThreadCacheTest, RunsWorkOffTheCallingThread) {
  EXPECT_FALSE(pthread_equal(RunAndWait([] {}), pthread_self()));
}

TEST(ThreadCacheTest, AnIdleThreadRunsTheNextWork) {
  // A thread goes back to idle only after its work is done: wait for every
  // earlier one, so that the thread below is the last to come back.
  ASSERT_TRUE(AwaitIdle(ThreadsSeen()));
  const pthread_t first = RunAndWait([] {});
  ASSERT_TRUE(AwaitIdle(ThreadsSeen()));
  // The most recently idle thread is reused first.
  EXPECT_TRUE(pthread_equal(RunAndWait([] {}), first));
}

TEST(ThreadCacheTest, ConcurrentWorkGetsThreadsOfItsOwn) {
  constexpr int kWorks = 8;
  absl::Mutex mu;
  int started = 0;
  std::set<pthread_t> threads;
  std::vector<std::unique_ptr<absl::Notification>> done;
  for (int i = 0; i < kWorks; ++i) {
    done.push_back(std::make_unique<absl::Notification>());
    absl::Notification* finished = done.back().get();
    ASSERT_TRUE(ThreadCache::Run([&, finished] {
                  absl::MutexLock lock(&mu);
                  ++started;
                  threads.insert(pthread_self());
                  // Every work holds its thread until all have started: a
                  // work queued behind another would never start.
                  const auto all_started = [&] { return started == kWorks; };
                  mu.Await(absl::Condition(&all_started));
                  finished->Notify();
                }).ok());
  }
  for (auto& finished : done) {
    ASSERT_TRUE(finished->WaitForNotificationWithTimeout(kHang));
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(threads.size(), kWorks);
}

TEST(ThreadCacheTest, AnIdleThreadIsNamedIdle) {
  pid_t tid = 0;
  RunAndWait([&] {
    tid = gettid();
    pthread_setname_np(pthread_self(), "some-task");
  });
  const std::string comm = absl::StrCat("/proc/self/task/", tid, "/comm");
  std::string name;
  Eventually([&] {
    std::ifstream file(comm);
    name.assign(std::istreambuf_iterator<char>(file), {});
    return name == "tether-idle\n";
  });
  EXPECT_EQ(name, "tether-idle\n");
}

// The threads of this process, from /proc.
size_t ProcessThreads() {
  size_t threads = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++threads;
  }
  return threads;
}

TEST(ThreadCacheTest, ThreadsBeyondMaxIdleEndInsteadOfIdling) {
  // Earlier tests' threads may still be on their way to idling.
  Eventually([] { return ProcessThreads() == 1 + ThreadCache::idle(); });
  ASSERT_EQ(ProcessThreads(), 1 + ThreadCache::idle())
      << "a thread other than the cache's and this one runs";
  const size_t idle_before = ThreadCache::idle();
  const size_t threads_before = ProcessThreads();
  const size_t works = ThreadCache::kMaxIdle + 4;
  absl::Mutex mu;
  size_t started = 0;
  absl::Notification release;
  for (size_t i = 0; i < works; ++i) {
    ASSERT_TRUE(ThreadCache::Run([&] {
                  {
                    absl::MutexLock lock(&mu);
                    ++started;
                  }
                  release.WaitForNotification();
                }).ok());
  }
  {
    const auto all_started = [&] { return started == works; };
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_started), kHang));
  }
  // Every work has a thread: the idle ones were reused, the rest are new.
  EXPECT_EQ(ProcessThreads(), threads_before - idle_before + works);
  release.Notify();
  // kMaxIdle threads stay, the others end.
  const size_t threads_after =
      threads_before - idle_before + ThreadCache::kMaxIdle;
  Eventually([&] { return ProcessThreads() == threads_after; });
  EXPECT_EQ(ProcessThreads(), threads_after);
  EXPECT_TRUE(AwaitIdle(ThreadCache::kMaxIdle));
  EXPECT_EQ(ThreadCache::idle(), ThreadCache::kMaxIdle);
}

}  // namespace
}  // namespace task_internal
}  // namespace tether
