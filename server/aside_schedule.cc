#include "server/aside_schedule.h"

#include <algorithm>

namespace tether {

void AsideSchedule::Restart(uint64_t task_events, absl::Time now) {
  interval_ = kMinInterval;
  last_found_ = now;
  task_events_ = task_events;
  last_task_event_ = now;
}

void AsideSchedule::Looked(int found, uint64_t task_events, absl::Time now) {
  if (found > 0) {
    interval_ = kMinInterval;
    last_found_ = now;
  } else {
    const absl::Duration max_interval =
        now - last_found_ < kBusyWindow ? kBusyMaxInterval : kIdleMaxInterval;
    interval_ = std::min(2 * interval_, max_interval);
  }
  if (task_events != task_events_) {
    task_events_ = task_events;
    last_task_event_ = now;
  }
}

}  // namespace tether
