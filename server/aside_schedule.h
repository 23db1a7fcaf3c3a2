// File: server/aside_schedule.h
//
// When a call acceptor that stands aside (server/call_acceptor.h) next
// looks at its queue, and when it should block on the queue again. A call
// that arrives while the acceptor stands aside waits until the next look.
// The wait is kept a small share of the time since the acceptor last found
// a call: the next look comes 1/kWaitShare of that time after this one,
// but no sooner than kMinInterval and no later than kMaxInterval. So calls
// that keep coming wait at most kMinInterval, a call after a pause of t
// waits at most ~t / kWaitShare (and never more than kMaxInterval), and a
// pause costs kWaitShare * (1 + ln(kMaxInterval / kMinInterval)) looks
// (~75) in its first kWaitShare * kMaxInterval (16 ms), then one per
// kMaxInterval.
//
// The acceptor blocks on its queue again once the process's tasks noted no
// event (rpc/poll_standby.h) for kQuietAfter: they may all be blocked
// outside gRPC, with nobody left to keep its I/O going. Being stepped
// aside is not a find: it says that tasks are busy, not that calls come,
// so the looks after it keep the pace of the last find.
//
//   AsideSchedule schedule(TaskEventCount(), absl::Now());
//   while (!schedule.Quiet(absl::Now())) {
//     SleepFor(schedule.interval());
//     schedule.Looked(HandleReadyEvents(), TaskEventCount(), absl::Now());
//   }
//
// Not thread-safe: one draining thread owns it.

#ifndef TETHER_SERVER_ASIDE_SCHEDULE_H_
#define TETHER_SERVER_ASIDE_SCHEDULE_H_

#include <cstdint>

#include "absl/time/time.h"

namespace tether {

class AsideSchedule {
 public:
  // Bounds of the interval between looks, chosen by measurement
  // (docs/performance.md, "The acceptor's schedule"): a look costs a
  // wake-up of the acceptor's thread, and looking without a pause halved
  // the stream's throughput.
  static constexpr absl::Duration kMinInterval = absl::Microseconds(25);
  static constexpr absl::Duration kMaxInterval = absl::Milliseconds(1);
  // The next look comes 1/kWaitShare of the time since the last find after
  // this one.
  static constexpr int kWaitShare = 16;
  static constexpr absl::Duration kQuietAfter = absl::Milliseconds(1);

  // Starts as just after a look that found something, `task_events` being
  // TaskEventCount() then.
  AsideSchedule(uint64_t task_events, absl::Time now)
      : interval_(kMinInterval),
        last_found_(now),
        task_events_(task_events),
        last_task_event_(now) {}

  // At `now` the acceptor handled `found` events of calls (arrivals, or
  // operations on calls it serves; the alarm that steps it aside is none),
  // looking at its queue or blocked on it; tasks had noted `task_events`
  // by then.
  void Looked(int found, uint64_t task_events, absl::Time now);

  // How long to wait before the next look.
  absl::Duration interval() const { return interval_; }

  // Tasks noted no event for kQuietAfter as of `now`.
  bool Quiet(absl::Time now) const {
    return now - last_task_event_ >= kQuietAfter;
  }

 private:
  absl::Duration interval_;
  absl::Time last_found_;
  uint64_t task_events_;
  absl::Time last_task_event_;
};

}  // namespace tether

#endif  // TETHER_SERVER_ASIDE_SCHEDULE_H_
