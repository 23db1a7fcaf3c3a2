// File: runtime/task/internal/thread_cache.h
//
// The threads tasks run on, kept for reuse. Every context a callee serves
// runs in a task of its own, so an actor starts threads at the rate it
// serves contexts; on this project's machines a new thread took ~20 us to
// start running and ~30 us of CPU to create, run empty and join. A thread
// whose work is done instead waits, for at most kIdleTimeout, for the next
// work; the most recently idle thread is reused first (its stack and
// caches are warm), and at most kMaxIdle threads wait at once, so an idle
// process keeps few.
//
// Every thread holds a CrashReportStack (runtime/base/crash_report.h) for its
// lifetime, as threads that run user code must. A waiting thread is named
// "tether-idle" (work may name it otherwise while it runs). Work that leaves
// state in the thread (thread_locals) must clean it up itself: the next work on
// the same thread sees it.
//
//   absl::Status started = ThreadCache::Run([] { DoWork(); });
//
// Thread-safe. The cache is never destroyed: a thread may still be waiting
// for work when the process exits.

#ifndef TETHER_RUNTIME_TASK_INTERNAL_THREAD_CACHE_H_
#define TETHER_RUNTIME_TASK_INTERNAL_THREAD_CACHE_H_

#include <cstddef>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tether {
namespace task_internal {

class ThreadCache {
 public:
  static constexpr size_t kMaxIdle = 16;
  static constexpr absl::Duration kIdleTimeout = absl::Seconds(10);

  // Runs `work` on an idle thread, or on a new one if none is idle.
  // ResourceExhausted, with `work` dropped unrun, if no thread can be
  // created.
  static absl::Status Run(std::function<void()> work);

  // How many threads wait for work now; for tests.
  static size_t idle();
};

}  // namespace task_internal
}  // namespace tether

#endif  // TETHER_RUNTIME_TASK_INTERNAL_THREAD_CACHE_H_
