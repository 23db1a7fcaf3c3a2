// File: runtime/task/delayed_call.h
//
// Runs a function at a later time on the runtime's one timer thread, for
// work with a latency bound that nothing else would trigger (writes held
// back for batching, runtime/context/internal/outbox.h).
//
//   RunAt(absl::Now() + absl::Microseconds(100), [weak] {
//     if (auto self = weak.lock()) self->Flush();
//   });
//
// Thread-safe. Functions run one at a time, in deadline order, at or soon
// after their deadline, with no lock held; they must not block. Whatever a
// function refers to must be alive when it runs or be checked then (hold a
// weak_ptr). The thread starts on first use and lives as long as the
// process; functions still pending at exit never run.

#ifndef TETHER_RUNTIME_TASK_DELAYED_CALL_H_
#define TETHER_RUNTIME_TASK_DELAYED_CALL_H_

#include <functional>

#include "absl/time/time.h"

namespace tether {

void RunAt(absl::Time deadline, std::function<void()> function);

}  // namespace tether

#endif  // TETHER_RUNTIME_TASK_DELAYED_CALL_H_
