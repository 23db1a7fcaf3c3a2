#include "tether/task.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "runtime/task/internal/thread_cache.h"
#include "runtime/task/wait.h"

namespace tether {
namespace task_internal {
namespace {

// Sleeps while `*word` == `expected`, at most `timeout` (infinite for
// absl::InfiniteDuration()); may return early or spuriously.
void FutexWait(std::atomic<int>* word, int expected, absl::Duration timeout) {
  static_assert(sizeof(std::atomic<int>) == sizeof(int));
  timespec relative = absl::ToTimespec(timeout);
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAIT_PRIVATE, expected,
          timeout == absl::InfiniteDuration() ? nullptr : &relative, nullptr,
          0);
}

// Wakes one thread sleeping in FutexWait on `word`.
void FutexWake(std::atomic<int>* word) {
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAKE_PRIVATE, 1,
          nullptr, nullptr, 0);
}

// How often a running task's non-blocking cancellation points handle the
// events its poller has ready.
constexpr std::chrono::microseconds kReadyPollInterval(50);

// The time left until `deadline`, without reading the clock for a wait
// that has none (most waits): absl::Now() costs ~140 ns on the machine of
// docs/performance.md, and a round trip parks several times.
absl::Duration TimeLeft(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return absl::InfiniteDuration();
  return deadline - absl::Now();
}

}  // namespace

// Per-thread state. Shared so that a scope's canceller can wake the thread
// even while the thread is exiting.
class TaskState : public std::enable_shared_from_this<TaskState> {
 public:
  explicit TaskState(std::string name) : name_(std::move(name)) {}

  // Only the owning thread reads or changes it.
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Wakes the task if it is parked, or makes its next Park return at once.
  void Unpark() {
    if (permit_.exchange(1) == 1) return;  // A wake-up is already pending.
    // Sequentially consistent accesses of permit_ and parked_ (polling_)
    // on both sides: either this sees the task asleep, or the task sees
    // permit_ before it sleeps.
    if (parked_.load()) FutexWake(&permit_);
    if (polling_.load()) {
      absl::MutexLock lock(&poll_mu_);
      if (polling_on_ != nullptr) polling_on_->Kick();
    }
  }

  std::shared_ptr<TaskPoller> SetPoller(std::shared_ptr<TaskPoller> poller) {
    absl::MutexLock lock(&poll_mu_);
    std::swap(poller, poller_);
    return poller;
  }
  std::shared_ptr<TaskPoller> poller() {
    absl::MutexLock lock(&poll_mu_);
    return poller_;
  }

  // Blocks until Unpark() or `deadline`; consumes the wake-up. Polls
  // `poller` meanwhile, unless it is null or another thread polls it. Parks
  // at once, without spinning: on a machine with few cores a spinning task
  // takes the CPU from the very threads that would deliver its wake-up.
  void ParkUntil(absl::Time deadline, TaskPoller* poller) {
    while (permit_.exchange(0) == 0) {
      const absl::Duration left = TimeLeft(deadline);
      if (left <= absl::ZeroDuration()) return;
      if (poller != nullptr && BeginPoll(*poller)) {
        {
          absl::MutexLock lock(&poll_mu_);
          polling_on_ = poller;
        }
        polling_.store(true);
        if (permit_.load() == 0) poller->PollOnce(deadline);
        polling_.store(false);
        {
          absl::MutexLock lock(&poll_mu_);
          polling_on_ = nullptr;
        }
        EndPoll(*poller);
        continue;
      }
      parked_.store(true);
      // FutexWait returns at once unless permit_ is still 0.
      FutexWait(&permit_, 0, left);
      parked_.store(false);
    }
  }

  // Takes `poller` for this thread; or, while another thread polls it,
  // asks to be woken when it is free.
  bool BeginPoll(TaskPoller& poller) {
    absl::MutexLock lock(&poller.mu_);
    if (!poller.busy_) {
      poller.busy_ = true;
      return true;
    }
    std::shared_ptr<TaskState> self = shared_from_this();
    if (std::find(poller.standby_.begin(), poller.standby_.end(), self) ==
        poller.standby_.end()) {
      poller.standby_.push_back(std::move(self));
    }
    return false;
  }

  // Handles its poller's ready events if it has one and has not polled for
  // kReadyPollInterval: cheap enough for every non-blocking cancellation
  // point.
  void MaybePollReady() {
    std::shared_ptr<TaskPoller> poller = this->poller();
    if (poller == nullptr) return;
    const std::chrono::steady_clock::time_point now =
        std::chrono::steady_clock::now();
    if (now - last_ready_poll_ < kReadyPollInterval) return;
    last_ready_poll_ = now;
    PollReady(*poller);
  }

  // Takes `poller` for this thread if no other thread polls it.
  static bool BeginPollIfFree(TaskPoller& poller) {
    absl::MutexLock lock(&poller.mu_);
    return !std::exchange(poller.busy_, true);
  }

  // Frees `poller` and wakes a task that wanted it, which takes over.
  static void EndPoll(TaskPoller& poller) {
    std::shared_ptr<TaskState> next;
    {
      absl::MutexLock lock(&poller.mu_);
      poller.busy_ = false;
      if (poller.standby_.empty()) return;
      next = std::move(poller.standby_.front());
      poller.standby_.erase(poller.standby_.begin());
    }
    next->Unpark();
  }

  // The scope stack; only the owning thread touches it.
  std::vector<std::shared_ptr<ScopeState>>& scopes() { return scopes_; }

  // BeforeNextBlock's hooks; only the owning thread touches them.
  void AddBeforeBlock(std::function<void()> hook) {
    before_block_.push_back(std::move(hook));
  }
  // Runs and forgets them; a hook may add another, which runs next time.
  void RunBeforeBlock() {
    if (!before_block_.empty()) RunBeforeBlockOutOfLine();
  }

 private:
  std::string name_;
  // When MaybePollReady last polled; only the owning thread touches it.
  std::chrono::steady_clock::time_point last_ready_poll_;
  // 1 while a wake-up is pending; the futex word.
  std::atomic<int> permit_{0};
  std::atomic<bool> parked_{false};
  std::atomic<bool> polling_{false};
  absl::Mutex poll_mu_;
  std::shared_ptr<TaskPoller> poller_ ABSL_GUARDED_BY(poll_mu_);
  // What the task polls while polling_; kept alive by the poller's owner
  // for as long.
  TaskPoller* polling_on_ ABSL_GUARDED_BY(poll_mu_) = nullptr;
  std::vector<std::shared_ptr<ScopeState>> scopes_;
  std::vector<std::function<void()>> before_block_;

  // Out of line, so that the rare path's locals stay out of the frame of
  // every cancellation point: a blocked task's stack depth is resident
  // memory.
  ABSL_ATTRIBUTE_NOINLINE void RunBeforeBlockOutOfLine() {
    std::vector<std::function<void()>> hooks;
    hooks.swap(before_block_);
    for (std::function<void()>& hook : hooks) hook();
  }
};

// One cancel scope. Cancellation flows down the tree of scopes: nested
// scopes of the same task and the root scopes of tasks started inside it.
class ScopeState {
 public:
  // `task` is woken when this scope is cancelled; null for a group scope,
  // which no thread waits on directly.
  explicit ScopeState(const std::shared_ptr<TaskState>& task) : task_(task) {}

  // Links `child` below this scope; cancels it at once if this scope is
  // already cancelled.
  void AddChild(const std::shared_ptr<ScopeState>& child) {
    absl::Status reason;
    {
      absl::MutexLock lock(&mu_);
      if (reason_.ok()) {
        // Prune children that are gone so long-lived scopes stay small.
        children_.erase(std::remove_if(children_.begin(), children_.end(),
                                       [](const std::weak_ptr<ScopeState>& c) {
                                         return c.expired();
                                       }),
                        children_.end());
        children_.push_back(child);
        return;
      }
      reason = reason_;
    }
    child->Cancel(reason);
  }

  void Cancel(absl::Status reason) {
    if (reason.ok()) reason = absl::CancelledError("cancelled");
    std::vector<std::weak_ptr<ScopeState>> children;
    {
      absl::MutexLock lock(&mu_);
      if (!reason_.ok()) return;
      reason_ = reason;
      cancelled_.store(true, std::memory_order_release);
      children.swap(children_);
    }
    if (std::shared_ptr<TaskState> task = task_.lock()) task->Unpark();
    for (const std::weak_ptr<ScopeState>& weak : children) {
      if (std::shared_ptr<ScopeState> child = weak.lock()) {
        child->Cancel(reason);
      }
    }
  }

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  absl::Status reason() const {
    absl::MutexLock lock(&mu_);
    return reason_;
  }

 private:
  // Weak: the task owns its scopes, not the other way round.
  const std::weak_ptr<TaskState> task_;
  std::atomic<bool> cancelled_{false};
  mutable absl::Mutex mu_;
  absl::Status reason_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<ScopeState>> children_ ABSL_GUARDED_BY(mu_);
};

namespace {

thread_local std::shared_ptr<TaskState> tls_task;

// The calling thread's task, created with a root scope on first use.
const std::shared_ptr<TaskState>& CurrentTask() {
  if (tls_task == nullptr) {
    tls_task = std::make_shared<TaskState>("");
    tls_task->scopes().push_back(std::make_shared<ScopeState>(tls_task));
  }
  return tls_task;
}

const std::shared_ptr<ScopeState>& InnermostScope() {
  return CurrentTask()->scopes().back();
}

}  // namespace

// A TaskGroup's state, shared with its tasks.
class GroupState {
 public:
  explicit GroupState(bool cancel_on_error)
      : cancel_on_error_(cancel_on_error),
        scope_(std::make_shared<ScopeState>(nullptr)) {}

  bool cancel_on_error() const { return cancel_on_error_; }
  const std::shared_ptr<ScopeState>& scope() const { return scope_; }

  // A task is about to start.
  void Started() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++running_;
  }
  // A task that Started() could not start after all.
  void NotStarted() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    --running_;
    waiting_.NotifyAll();
  }
  void Fail(const absl::Status& error) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (first_error_.ok()) first_error_ = error;
  }
  // A task's last step, on its thread: nothing of the group is touched
  // after it, as Wait() may return as soon as it has.
  void Finished(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (!status.ok() && first_error_.ok()) {
        first_error_ = status;
        cancel = cancel_on_error_;
      }
    }
    if (cancel) scope_->Cancel(status);
    absl::MutexLock lock(&mu_);
    --running_;
    waiting_.NotifyAll();
  }
  absl::Status Wait() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    // Polls while it waits: the tasks may wait on contexts of the caller's.
    AwaitLockedShielded(
        mu_, waiting_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; },
        absl::InfiniteFuture());
    return first_error_;
  }

 private:
  const bool cancel_on_error_;
  // Parent of every task's root scope; a child of the creator's innermost
  // scope, but not on the creator's scope stack (CancelAll must not cancel
  // the creator).
  const std::shared_ptr<ScopeState> scope_;
  absl::Mutex mu_;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  WaitSet waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace task_internal

using task_internal::CurrentTask;
using task_internal::GroupState;
using task_internal::InnermostScope;
using task_internal::ScopeState;
using task_internal::TaskState;
using task_internal::TimeLeft;

void CancelHandle::Cancel(absl::Status reason) const {
  if (state_ != nullptr) state_->Cancel(std::move(reason));
}

bool CancelHandle::cancel_called() const {
  return state_ != nullptr && state_->cancelled();
}

absl::Status CancelHandle::reason() const {
  return state_ == nullptr ? absl::OkStatus() : state_->reason();
}

CancelScope::CancelScope() : task_(CurrentTask()) {
  auto state = std::make_shared<ScopeState>(task_);
  task_->scopes().back()->AddChild(state);
  task_->scopes().push_back(state);
  handle_ = CancelHandle(std::move(state));
}

CancelScope::~CancelScope() {
  // Strict nesting is the caller's contract; a violation would corrupt
  // every later cancellation check of this thread.
  if (task_->scopes().back() != handle_.state_) std::abort();
  task_->scopes().pop_back();
}

namespace {

absl::Status InnermostReason() {
  const std::shared_ptr<ScopeState>& scope = InnermostScope();
  return scope->cancelled() ? scope->reason() : absl::OkStatus();
}

}  // namespace

absl::Status CheckCancelled() {
  // A task that computes and checks now and then would otherwise not see a
  // cancel that its poller holds unread.
  CurrentTask()->MaybePollReady();
  return InnermostReason();
}

CancelHandle CurrentScope() { return CancelHandle(InnermostScope()); }

absl::Status SleepUntil(absl::Time deadline) {
  absl::Mutex mu;
  WaitSet never_notified;
  absl::MutexLock lock(&mu);
  const absl::Status status = AwaitLocked(
      mu, never_notified, [] { return false; }, deadline);
  return absl::IsDeadlineExceeded(status) ? absl::OkStatus() : status;
}

absl::Status Sleep(absl::Duration duration) {
  return SleepUntil(absl::Now() + duration);
}

std::shared_ptr<TaskPoller> SetTaskPoller(std::shared_ptr<TaskPoller> poller) {
  return CurrentTask()->SetPoller(std::move(poller));
}

std::shared_ptr<TaskPoller> CurrentTaskPoller() {
  return CurrentTask()->poller();
}

void PollReady() {
  const std::shared_ptr<TaskPoller> poller = CurrentTask()->poller();
  if (poller != nullptr) PollReady(*poller);
}

void PollReady(TaskPoller& poller) {
  if (!TaskState::BeginPollIfFree(poller)) return;
  while (poller.PollOnce(absl::InfinitePast())) {
  }
  TaskState::EndPoll(poller);
}

void BeforeNextBlock(std::function<void()> hook) {
  CurrentTask()->AddBeforeBlock(std::move(hook));
}

namespace {

// Names the calling thread after its task (the kernel keeps 15 bytes). Out
// of line, so that the temporary stays out of the frame every task blocks
// below.
ABSL_ATTRIBUTE_NOINLINE void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

thread_local DeferredWakeups::Tasks* DeferredWakeups::current_ = nullptr;

DeferredWakeups::DeferredWakeups()
    : pending_(current_ == nullptr ? &own_ : nullptr) {
  if (pending_ != nullptr) current_ = pending_;
}

DeferredWakeups::~DeferredWakeups() {
  if (pending_ == nullptr) return;
  current_ = nullptr;
  for (const std::shared_ptr<TaskState>& task : own_) task->Unpark();
}

void WaitSet::NotifyAll() {
  DeferredWakeups::Tasks* const deferred = DeferredWakeups::current_;
  if (deferred == nullptr) {
    for (TaskState* task : waiters_) task->Unpark();
    return;
  }
  // A waiter is alive while it is in the set (it leaves only with the
  // mutex, which the caller holds); the reference keeps it so until the
  // wake-up, which may come after it gave up waiting and even ended.
  for (TaskState* task : waiters_) {
    deferred->push_back(task->shared_from_this());
  }
}

namespace task_internal {

bool Await(absl::Mutex& mu, WaitSet& waiters, absl::FunctionRef<bool()> ready,
           absl::Time deadline, bool cancellable, absl::Status* cancelled) {
  TaskState* task = CurrentTask().get();
  while (true) {
    if (cancellable) {
      *cancelled = InnermostReason();
      if (!cancelled->ok()) return false;
    }
    if (ready()) return true;
    if (TimeLeft(deadline) <= absl::ZeroDuration()) return false;
    // Taken only to block: most calls return above, once per payload sent
    // or received, and a shared_ptr copy costs two atomic operations.
    const std::shared_ptr<TaskPoller> poller =
        waiters.poller_ != nullptr ? waiters.poller_ : task->poller();
    waiters.waiters_.push_back(task);
    mu.Unlock();
    task->RunBeforeBlock();
    task->ParkUntil(deadline, poller.get());
    mu.Lock();
    waiters.waiters_.erase(
        std::find(waiters.waiters_.begin(), waiters.waiters_.end(), task));
  }
}

}  // namespace task_internal

absl::Status AwaitLocked(absl::Mutex& mu, WaitSet& waiters,
                         absl::FunctionRef<bool()> ready, absl::Time deadline) {
  absl::Status cancelled;
  if (task_internal::Await(mu, waiters, ready, deadline, /*cancellable=*/true,
                           &cancelled)) {
    return absl::OkStatus();
  }
  if (!cancelled.ok()) return cancelled;
  return absl::DeadlineExceededError("deadline passed while waiting");
}

bool AwaitLockedShielded(absl::Mutex& mu, WaitSet& waiters,
                         absl::FunctionRef<bool()> ready, absl::Time deadline) {
  absl::Status unused;
  return task_internal::Await(mu, waiters, ready, deadline,
                              /*cancellable=*/false, &unused);
}

TaskGroup::TaskGroup(bool cancel_on_error)
    : state_(std::make_unique<GroupState>(cancel_on_error)) {
  InnermostScope()->AddChild(state_->scope());
}

TaskGroup::~TaskGroup() { Wait().IgnoreError(); }

void TaskGroup::Spawn(std::string name, std::function<absl::Status()> body) {
  absl::Status spawned = TrySpawn(std::move(name), std::move(body));
  if (!spawned.ok()) state_->Fail(spawned);
}

absl::Status TaskGroup::TrySpawn(std::string name,
                                 std::function<absl::Status()> body) {
  auto task = std::make_shared<TaskState>(name);
  auto root = std::make_shared<ScopeState>(task);
  task->scopes().push_back(root);
  state_->scope()->AddChild(root);
  state_->Started();
  absl::Status started = task_internal::ThreadCache::Run(
      [state = state_.get(), task = std::move(task),
       body = std::move(body)]() mutable {
        NameThisThread(task->name());
        task_internal::tls_task = task;
        absl::Status status = body();
        body = nullptr;  // Its captures go before Wait() can return.
        task->RunBeforeBlock();
        task->scopes().clear();
        task_internal::tls_task.reset();
        state->Finished(std::move(status));
      });
  if (started.ok()) return absl::OkStatus();
  state_->NotStarted();
  return absl::ResourceExhaustedError(
      absl::StrCat("cannot start task '", name, "': ", started.message()));
}

void TaskGroup::CancelAll(absl::Status reason) {
  state_->scope()->Cancel(reason);
}

absl::Status TaskGroup::Wait() { return state_->Wait(); }

const std::string& CurrentTaskName() { return CurrentTask()->name(); }

void RenameCurrentTask(std::string name) {
  NameThisThread(name);
  CurrentTask()->set_name(std::move(name));
}

}  // namespace tether
