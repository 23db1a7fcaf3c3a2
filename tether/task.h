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
// clang-format off
// Example:
//
//   // Ticks until the group is cancelled; Wait() reports why it ended.
//   absl::Status TickForAWhile() {
//     TaskGroup group;
//     group.Spawn("ticker", []() -> absl::Status {
//       while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Milliseconds(10)));
//     });
//     TETHER_RETURN_IF_ERROR(Sleep(absl::Milliseconds(50)));
//     group.CancelAll(absl::CancelledError("done"));
//     return group.Wait();  // the CancelledError: the ticker's last status
//   }
//
//   // A cancellable region of the calling task.
//   absl::Status SleepUnlessCancelled(CancelHandle* handle) {
//     CancelScope scope;
//     *handle = scope.handle();  // another thread may Cancel() through it
//     return Sleep(absl::Seconds(5));  // early, with the reason, if so
//   }
// clang-format on
//
// Thread-safety: any thread may use these calls: a thread the runtime did
// not start gets a task of its own on first use, with a root scope that
// nobody cancels unless it hands out a handle. CancelHandle and TaskGroup
// are thread-safe; a CancelScope belongs to the thread that made it.

#ifndef TETHER_TASK_H_
#define TETHER_TASK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tether {

namespace task_internal {
class GroupState;
class ScopeState;
class TaskState;
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

  // Waits until every task started so far has ended (its body returned
  // and its captures are destroyed); returns the first failure in the
  // order tasks finished, OK if none failed. Not a cancellation point: the
  // group's tasks are cancelled with the enclosing scope anyway.
  absl::Status Wait();

 private:
  // What the group's tasks share with it.
  const std::unique_ptr<task_internal::GroupState> state_;
};

}  // namespace tether

#endif  // TETHER_TASK_H_
