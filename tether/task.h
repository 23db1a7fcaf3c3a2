// File: tether/task.h
//
// Tasks, cancel scopes and cancellation points: the structured-concurrency
// core that user code runs in.
//
// A *task* is a thread that runs user code (a context function, an opener's
// block, a spawned helper). It owns a stack of *cancel scopes*; cancelling a
// scope, from any thread, cancels every scope nested in it and every task
// started inside it, and wakes the task if it is blocked. Every blocking
// runtime call is a *cancellation point*: it returns the scope's reason (an
// absl::Status) instead of blocking once the task's innermost scope is
// cancelled. Cancellation is cooperative: code that never reaches a
// cancellation point is not interrupted.
//
//   TaskGroup group;                       // joins its tasks before it ends
//   group.Spawn("ticker", []() -> absl::Status {
//     while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Milliseconds(10)));
//   });
//   group.CancelAll(absl::CancelledError("done"));
//   absl::Status first_error = group.Wait();   // the CancelledError
//
//   CancelScope scope;                     // cancellable region of a task
//   CancelHandle handle = scope.handle();  // give to another thread
//   absl::Status s = Sleep(absl::Seconds(5));  // returns early when
//                                                 // handle.Cancel(...) runs
//
// Any thread may use these calls: a thread the runtime did not start gets a
// task of its own on first use, with a root scope that nobody cancels unless
// it hands out a handle.

#ifndef TETHER_TASK_H_
#define TETHER_TASK_H_

#include <cstdint>
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

namespace tether {

class WaitSet;

namespace task_internal {
class ScopeState;
class TaskState;
// AwaitLocked and AwaitLockedShielded; `cancellable` chooses. Sets
// *cancelled to the reason when a cancellation ended the wait.
bool Await(absl::Mutex& mu, WaitSet& waiters, absl::FunctionRef<bool()> ready,
           absl::Time deadline, bool cancellable, absl::Status* cancelled);
}  // namespace task_internal

// Cancels a scope from any thread; cheap to copy; may outlive the scope
// (cancelling a closed scope does nothing useful and is harmless).
class CancelHandle {
 public:
  CancelHandle() = default;

  // The first reason wins; later calls do nothing. `reason` must not be OK.
  void Cancel(absl::Status reason) const;
  bool cancel_called() const;
  // OK until cancelled.
  absl::Status reason() const;

 private:
  friend class CancelScope;
  friend CancelHandle CurrentScope();
  explicit CancelHandle(std::shared_ptr<task_internal::ScopeState> state)
      : state_(std::move(state)) {}

  std::shared_ptr<task_internal::ScopeState> state_;
};

// A cancellable region of the calling task, nested in the scope that is
// innermost when it is created. Only the creating thread may construct and
// destroy it, in strict nesting order; handle() and Cancel() are
// thread-safe.
class CancelScope {
 public:
  CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  ~CancelScope();

  void Cancel(absl::Status reason) { handle_.Cancel(std::move(reason)); }
  bool cancel_called() const { return handle_.cancel_called(); }
  absl::Status reason() const { return handle_.reason(); }
  CancelHandle handle() const { return handle_; }

 private:
  std::shared_ptr<task_internal::TaskState> task_;
  CancelHandle handle_;
};

// The cancellation point that does not block: the cancel reason when the
// calling task's innermost scope is cancelled, OK otherwise.
absl::Status CheckCancelled();

// A handle on the calling task's innermost scope.
CancelHandle CurrentScope();

// Blocks until `deadline` or cancellation. OK once the time has passed,
// the cancel reason otherwise.
absl::Status SleepUntil(absl::Time deadline);
absl::Status Sleep(absl::Duration duration);

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

// Starts tasks and joins every one of them before it is destroyed. Tasks
// run nested in the scope that is innermost where the group was created:
// cancelling that scope cancels them. Each task runs on a thread of its own
// from runtime/task/internal/thread_cache.h, named after the task (its first 15
// bytes), which goes back to the cache when the task ends. Thread-safe.
class TaskGroup {
 public:
  // With `cancel_on_error`, the first task that fails cancels the others
  // with its error (one-cancels-all).
  explicit TaskGroup(bool cancel_on_error = false);
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  // Joins every task (without cancelling them).
  ~TaskGroup();

  // Runs `body` on a thread of its own as a task named `name`. If no
  // thread can be created (the process is out of threads or memory), the task
  // counts as failed with ResourceExhausted, which Wait() reports.
  void Spawn(std::string name, std::function<absl::Status()> body);

  // As Spawn, but a thread that cannot be created is this call's
  // ResourceExhausted error and `body` is dropped unrun.
  absl::Status TrySpawn(std::string name, std::function<absl::Status()> body);

  // Cancels every task started so far and every later one.
  void CancelAll(absl::Status reason);

  // Waits until every task started so far has ended (its body returned,
  // its captures destroyed, its BeforeNextBlock hooks run); returns the
  // first failure in the order tasks finished, OK if none failed. Not a
  // cancellation point: the group's tasks are cancelled with the enclosing
  // scope anyway. A block like any other otherwise: the caller's
  // BeforeNextBlock hooks run, and it polls its TaskPoller meanwhile, as
  // the tasks may wait on the caller's contexts.
  absl::Status Wait();

 private:
  // A task's last step, on its thread: nothing of this group is touched
  // after it, as Wait() may return as soon as it has.
  void Finished(absl::Status status);

  const bool cancel_on_error_;
  // Parent of every task's root scope; a child of the creator's innermost
  // scope, but not on the creator's scope stack (CancelAll must not cancel
  // the creator).
  const std::shared_ptr<task_internal::ScopeState> scope_;
  absl::Mutex mu_;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  WaitSet waiting_ ABSL_GUARDED_BY(mu_);
};

// The name of the calling task ("" for threads the runtime did not start).
const std::string& CurrentTaskName();

// Renames the calling task and its thread: a task that learns what it runs
// after it started (a serving task, once its call's first frame arrived).
void RenameCurrentTask(std::string name);

}  // namespace tether

#endif  // TETHER_TASK_H_
