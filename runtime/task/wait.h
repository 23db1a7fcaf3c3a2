// File: runtime/task/wait.h
//
// How runtime objects block and wake tasks (tether/task.h has what users
// call): the set of tasks waiting on one object and the cancellation
// points that wait on it, the pollers that blocked tasks handle instead of
// sleeping, wake-ups held back until locks are free, work deferred to a
// task's next block, and task names.
//
//   absl::MutexLock lock(&mu_);
//   TETHER_RETURN_IF_ERROR(AwaitLocked(
//       mu_, waiters_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
//         return !queue_.empty();
//       }, deadline));
//   ...                                  // elsewhere, with mu_ held:
//   waiters_.NotifyAll();
//
// Thread-safety: per class and function below.

#ifndef TETHER_RUNTIME_TASK_WAIT_H_
#define TETHER_RUNTIME_TASK_WAIT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tether/task.h"

namespace tether {

class WaitSet;

namespace task_internal {
// AwaitLocked and AwaitLockedShielded; `cancellable` chooses. Sets
// *cancelled to the reason when a cancellation ended the wait.
bool Await(absl::Mutex& mu, WaitSet& waiters, absl::FunctionRef<bool()> ready,
           absl::Time deadline, bool cancellable, absl::Status* cancelled)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
}  // namespace task_internal

// Runs `hook` on the calling thread just before it next blocks in a
// cancellation point, or when its task ends, whichever comes first (never
// on a thread that does neither). For work a running task defers, such as
// payloads held back for batching: they must leave before the task waits
// for anything. Hooks run in the order added, with no runtime lock held.
void BeforeNextBlock(std::function<void()> hook);

// A source of events that a blocked task handles itself instead of
// sleeping: the completion queue of the gRPC calls of its contexts
// (rpc/call_queue.h), so that the thread that waits for a reply is the
// one the kernel wakes when it lands ("whoever waits, polls"). One thread
// polls a poller at a time; the others sleep as usual, and the poller's
// events wake them. A task polls its own poller (SetTaskPoller) or the one
// of the object it waits on (WaitSet::SetPoller).
class TaskPoller {
 public:
  TaskPoller() = default;
  TaskPoller(const TaskPoller&) = delete;
  TaskPoller& operator=(const TaskPoller&) = delete;
  virtual ~TaskPoller() = default;

  // Waits until `deadline` for one event and handles it; false if none
  // came. Called by one thread at a time.
  virtual bool PollOnce(absl::Time deadline) = 0;
  // Makes a PollOnce running on another thread return soon. Any thread.
  virtual void Kick() = 0;

 private:
  friend class task_internal::TaskState;
  absl::Mutex mu_;
  // A thread is polling.
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  // Tasks that found it busy and sleep instead; one is woken to take over
  // when the poller is free again.
  std::vector<std::shared_ptr<task_internal::TaskState>> standby_
      ABSL_GUARDED_BY(mu_);
};

// Installs `poller` for the calling task (null removes it); returns the
// one it replaces.
std::shared_ptr<TaskPoller> SetTaskPoller(std::shared_ptr<TaskPoller> poller);
// The calling task's poller, if any.
std::shared_ptr<TaskPoller> CurrentTaskPoller();

// Handles the events the calling task's poller has ready, without waiting
// for more, unless another thread is polling it. For a running task whose
// own work waits on those events (a write's completion before the next
// write can start).
void PollReady();
// The same for `poller`, from any thread.
void PollReady(TaskPoller& poller);

// The tasks blocked on one object. External synchronization: every call
// happens with the object's mutex held (the one passed to AwaitLocked).
class WaitSet {
 public:
  // Wakes every task waiting in AwaitLocked on this set; they re-check.
  // Inside a DeferredWakeups scope on this thread the wake-ups wait for
  // the scope's end.
  void NotifyAll();
  bool empty() const { return waiters_.empty(); }

  // Tasks waiting on this set poll `poller` (instead of their own) while
  // they wait: the events that make them ready come through it. Set before
  // anyone waits.
  void SetPoller(std::shared_ptr<TaskPoller> poller) {
    poller_ = std::move(poller);
  }

 private:
  friend bool task_internal::Await(absl::Mutex&, WaitSet&,
                                   absl::FunctionRef<bool()>, absl::Time, bool,
                                   absl::Status*);
  std::vector<task_internal::TaskState*> waiters_;
  std::shared_ptr<TaskPoller> poller_;
};

// Holds back the wake-ups WaitSet::NotifyAll issues on this thread until
// the outermost such scope ends. Declared before the mutex that guards a
// WaitSet is taken, it makes woken tasks find that mutex free: a task woken
// while the notifier still holds it would block on it at once and need a
// second wake-up. Not movable; strictly nested on one thread.
class DeferredWakeups {
 public:
  DeferredWakeups();
  ~DeferredWakeups();
  DeferredWakeups(const DeferredWakeups&) = delete;
  DeferredWakeups& operator=(const DeferredWakeups&) = delete;

 private:
  friend class WaitSet;
  using Tasks =
      absl::InlinedVector<std::shared_ptr<task_internal::TaskState>, 2>;
  // Null in nested scopes: the outermost one collects for all.
  Tasks* pending_;
  // Inline: a frame's handling wakes one or two tasks, and should not
  // allocate to do so.
  Tasks own_;
  // The outermost scope's own_ on this thread, if any.
  static thread_local Tasks* current_;
};

// The blocking cancellation point. Called with `mu` held; waits, releasing
// `mu` while blocked, until `ready()` (evaluated with `mu` held) is true, the
// deadline passes (DeadlineExceeded) or the task is cancelled (the reason).
// Cancellation is checked first, so a cancelled task never takes a value.
// Whoever makes `ready()` true must call `waiters.NotifyAll()` with `mu`
// held. Returns with `mu` held.
absl::Status AwaitLocked(absl::Mutex& mu, WaitSet& waiters,
                         absl::FunctionRef<bool()> ready, absl::Time deadline)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

// As AwaitLocked, but not a cancellation point: waits for `ready()` or the
// deadline whether or not the task is cancelled. True once ready.
bool AwaitLockedShielded(absl::Mutex& mu, WaitSet& waiters,
                         absl::FunctionRef<bool()> ready, absl::Time deadline)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

// The name of the calling task ("" for threads the runtime did not start).
const std::string& CurrentTaskName();

// Renames the calling task and its thread: a task that learns what it runs
// after it started (a serving task, once its call's first frame arrived).
void RenameCurrentTask(std::string name);

}  // namespace tether

#endif  // TETHER_RUNTIME_TASK_WAIT_H_
