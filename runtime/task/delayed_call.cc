#include "runtime/task/delayed_call.h"

#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace tether {
namespace {

class TimerThread {
 public:
  TimerThread() {
    std::thread([this] { Loop(); }).detach();
  }

  void Add(absl::Time deadline, std::function<void()> function) {
    absl::MutexLock lock(&mu_);
    const bool earliest = due_.empty() || deadline < due_.begin()->first;
    due_.emplace(deadline, std::move(function));
    if (earliest) wake_.Signal();
  }

 private:
  [[noreturn]] void Loop() {
    while (true) {
      std::function<void()> function;
      {
        absl::MutexLock lock(&mu_);
        while (due_.empty()) wake_.Wait(&mu_);
        const absl::Time deadline = due_.begin()->first;
        if (absl::Now() < deadline) {
          // Woken early by an earlier deadline, or at this one: look again.
          wake_.WaitWithDeadline(&mu_, deadline);
          continue;
        }
        function = std::move(due_.begin()->second);
        due_.erase(due_.begin());
      }
      function();
    }
  }

  absl::Mutex mu_;
  absl::CondVar wake_;
  std::multimap<absl::Time, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void RunAt(absl::Time deadline, std::function<void()> function) {
  // Never destroyed: its detached thread may run until the process ends.
  static TimerThread* const timer = new TimerThread();
  timer->Add(deadline, std::move(function));
}

}  // namespace tether
