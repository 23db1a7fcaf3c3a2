#include "rpc/poll_standby.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tether {
namespace {

class StandbyRegistry {
 public:
  void Add(PollStandby* standby) {
    absl::MutexLock lock(&mu_);
    standing_.push_back(standby);
    count_.store(standing_.size(), std::memory_order_release);
  }

  void Remove(PollStandby* standby) {
    absl::MutexLock lock(&mu_);
    auto it = std::find(standing_.begin(), standing_.end(), standby);
    if (it == standing_.end()) return;
    standing_.erase(it);
    count_.store(standing_.size(), std::memory_order_release);
  }

  void NoteEvent() {
    events_.fetch_add(1, std::memory_order_relaxed);
    if (count_.load(std::memory_order_acquire) == 0) return;
    absl::MutexLock lock(&mu_);
    for (PollStandby* standby : standing_) standby->StepAside();
    standing_.clear();
    count_.store(0, std::memory_order_release);
  }

  uint64_t events() const { return events_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> events_{0};
  // standing_.size(), read without the lock on every event.
  std::atomic<size_t> count_{0};
  absl::Mutex mu_;
  std::vector<PollStandby*> standing_ ABSL_GUARDED_BY(mu_);
};

StandbyRegistry& Registry() {
  static StandbyRegistry* const registry = new StandbyRegistry();
  return *registry;
}

}  // namespace

PollStandby::Standing::Standing(PollStandby* standby) : standby_(standby) {
  Registry().Add(standby_);
}

PollStandby::Standing::~Standing() { Registry().Remove(standby_); }

void NoteTaskEvent() { Registry().NoteEvent(); }

uint64_t TaskEventCount() { return Registry().events(); }

}  // namespace tether
