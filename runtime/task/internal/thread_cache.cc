#include "runtime/task/internal/thread_cache.h"

#include <pthread.h>

#include <algorithm>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "runtime/base/crash_report.h"

namespace tether {
namespace task_internal {
namespace {

// A thread waiting for work; lives on that thread's stack.
struct IdleThread {
  absl::CondVar wake;
  // Set by Run() once it has taken this thread off the idle list.
  std::function<void()> work;
};

struct Cache {
  absl::Mutex mu;
  // Most recently idle last.
  std::vector<IdleThread*> idle ABSL_GUARDED_BY(mu);
};

Cache& TheCache() {
  static Cache* const cache = new Cache();
  return *cache;
}

// Waits for the calling thread's next work; false when the thread should
// end instead (enough threads are idle, or none came in time).
ABSL_ATTRIBUTE_NOINLINE bool AwaitWork(std::function<void()>& work) {
  // Not the name of the work that ran last, which no longer runs.
  pthread_setname_np(pthread_self(), "tether-idle");
  Cache& cache = TheCache();
  absl::MutexLock lock(&cache.mu);
  if (cache.idle.size() >= ThreadCache::kMaxIdle) return false;
  IdleThread self;
  cache.idle.push_back(&self);
  const absl::Time deadline = absl::Now() + ThreadCache::kIdleTimeout;
  while (self.work == nullptr) {
    const bool timed_out = self.wake.WaitWithDeadline(&cache.mu, deadline);
    if (timed_out && self.work == nullptr) {
      // Still listed: Run() unlists a thread before it hands it work.
      cache.idle.erase(std::find(cache.idle.begin(), cache.idle.end(), &self));
      return false;
    }
  }
  work = std::move(self.work);
  return true;
}

// The thread's start routine, straight from pthread_create: a task's
// stack depth is resident memory for as long as it blocks, and a frame
// more at the bottom (std::thread's) cost every task a page of it.
void* ThreadMain(void* first_work) {
  std::function<void()> work;
  work.swap(*static_cast<std::function<void()>*>(first_work));
  delete static_cast<std::function<void()>*>(first_work);
  const CrashReportStack crash_report_stack;
  do {
    work();
    work = nullptr;  // The work's captures go before the thread idles.
  } while (AwaitWork(work));
  return nullptr;
}

}  // namespace

absl::Status ThreadCache::Run(std::function<void()> work) {
  Cache& cache = TheCache();
  {
    absl::MutexLock lock(&cache.mu);
    if (!cache.idle.empty()) {
      IdleThread* thread = cache.idle.back();
      cache.idle.pop_back();
      thread->work = std::move(work);
      thread->wake.Signal();
      return absl::OkStatus();
    }
  }
  auto* first_work = new std::function<void()>(std::move(work));
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int error =
      pthread_create(&thread, &attributes, ThreadMain, first_work);
  pthread_attr_destroy(&attributes);
  if (error == 0) return absl::OkStatus();
  delete first_work;
  return absl::ResourceExhaustedError(absl::StrCat(
      "cannot start a thread: ", std::generic_category().message(error)));
}

size_t ThreadCache::idle() {
  Cache& cache = TheCache();
  absl::MutexLock lock(&cache.mu);
  return cache.idle.size();
}

}  // namespace task_internal
}  // namespace tether
