#include "server/aside_schedule.h"

#include <algorithm>

namespace tether {

void AsideSchedule::Looked(int found, uint64_t task_events, absl::Time now) {
  if (found > 0) last_found_ = now;
  interval_ =
      std::clamp((now - last_found_) / kWaitShare, kMinInterval, kMaxInterval);
  if (task_events != task_events_) {
    task_events_ = task_events;
    last_task_event_ = now;
  }
}

}  // namespace tether
