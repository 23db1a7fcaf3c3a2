// File: runtime/debug/tty_lock.h
//
// The root's tree-wide TTY lock (debug mode): one actor task at a time may
// use the shared terminal. Requests are granted first in, first out. An
// actor whose holding channel broke without releasing goes on the blocked
// list: the root saw it lose its channel to the root, so whatever it does
// at the terminal can no longer be coordinated, and its later requests are
// refused (it then skips its post-mortem prompt).
//
//   TtyLock lock;
//   absl::StatusOr<uint64_t> ticket =
//       lock.Request(request, [](uint32_t waited_behind) { /* granted */ });
//   ...
//   lock.Release(*ticket);     // holder done, or a waiter withdraws
//   lock.Abandon(*ticket);     // its channel broke instead
//
// The process that hosts the lock (the root) publishes it with SetHosted so
// that its own nurseries read it directly (client/debug/prompt_watch.h) before
// tearing children down; nurseries elsewhere ask the root's Debug/Status.
// Thread-safe; grant callbacks run without the lock's mutex held.

#ifndef TETHER_RUNTIME_DEBUG_TTY_LOCK_H_
#define TETHER_RUNTIME_DEBUG_TTY_LOCK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tether/v1/debug.pb.h"

namespace tether {

// The Debug/Lock stream's Start.function, and the ErrorInfo type of the
// root's refusal of a blocked actor's request.
inline constexpr char kDebugLockFunction[] = "tty_lock";
inline constexpr char kDebugLockRefusedType[] = "tether.DebugLockRefused";

class TtyLock {
 public:
  // Runs once when a request becomes the holder; `waited_behind` counts
  // the requests that held or waited for the lock when it was queued.
  using Grant = std::function<void(uint32_t waited_behind)>;

  // Queues `request`; `on_grant` runs at once (on this thread) if nobody
  // holds the lock. Errors: FAILED_PRECONDITION when the requester is on
  // the blocked list.
  absl::StatusOr<uint64_t> Request(const v1::DebugLockRequest& request,
                                   Grant on_grant);

  // The holder releases the lock, or a waiter withdraws. The next waiter
  // is granted. Unknown tickets are ignored.
  void Release(uint64_t ticket);

  // The request's channel broke. A waiter just withdraws; a holder's actor
  // goes on the blocked list, then the next waiter is granted.
  void Abandon(uint64_t ticket);

  // Blocked actors kept at most. Beyond, the one blocked longest ago is
  // forgotten (its process has most likely gone), so that peers breaking
  // streams under ever new uuids cannot grow the root's memory and its
  // Status answers without end.
  static constexpr size_t kMaxBlocked = 1024;

  v1::DebugStatus Status() const;

  // The current holder, if any.
  std::optional<v1::DebugLockRequest> holder() const;

  // The lock this process hosts, or null.
  static TtyLock* Hosted();
  static void SetHosted(TtyLock* lock);

 private:
  struct Waiter {
    uint64_t ticket;
    v1::DebugLockRequest request;
    Grant on_grant;
    uint32_t ahead;  // requests queued or holding before it
  };
  struct Holder {
    uint64_t ticket;
    v1::DebugLockRequest request;
  };

  // Makes the first waiter the holder if the lock is free; returns its
  // grant to run once the mutex is released.
  std::function<void()> GrantNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  std::optional<Holder> holder_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::ActorId> blocked_ ABSL_GUARDED_BY(mu_);  // by uuid
  // The uuids of blocked_, first blocked first.
  std::deque<std::string> blocked_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_RUNTIME_DEBUG_TTY_LOCK_H_
