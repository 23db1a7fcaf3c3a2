#include "testing/poll_until.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace tether {

bool PollUntil(absl::Time deadline, absl::FunctionRef<bool()> condition,
               absl::Duration interval) {
  while (!condition()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return condition();
    absl::SleepFor(std::min(interval, deadline - now));
  }
  return true;
}

}  // namespace tether
