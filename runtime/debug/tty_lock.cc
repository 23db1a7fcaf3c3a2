#include "runtime/debug/tty_lock.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/log.h"

namespace tether {
namespace {

std::atomic<TtyLock*> hosted{nullptr};

std::string Describe(const v1::DebugLockRequest& request) {
  return absl::StrCat(request.requester().name(), "[",
                      request.requester().uuid(), "] task ", request.task());
}

}  // namespace

TtyLock* TtyLock::Hosted() { return hosted.load(); }
void TtyLock::SetHosted(TtyLock* lock) { hosted.store(lock); }

absl::StatusOr<uint64_t> TtyLock::Request(const v1::DebugLockRequest& request,
                                          Grant on_grant) {
  std::function<void()> grant;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    if (blocked_.count(request.requester().uuid()) > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "debug lock refused to ", request.requester().name(), "[",
          request.requester().uuid(),
          "]: the root saw it lose its channel while holding the lock"));
    }
    ticket = next_ticket_++;
    const uint32_t ahead =
        static_cast<uint32_t>(waiters_.size()) + (holder_.has_value() ? 1 : 0);
    waiters_.push_back(Waiter{ticket, request, std::move(on_grant), ahead});
    grant = GrantNextLocked();
  }
  if (grant) grant();
  return ticket;
}

std::function<void()> TtyLock::GrantNextLocked() {
  if (holder_.has_value() || waiters_.empty()) return nullptr;
  Waiter next = std::move(waiters_.front());
  waiters_.pop_front();
  const uint32_t waited_behind = next.ahead;
  holder_ = Holder{next.ticket, next.request};
  TETHER_LOG(kInfo) << "debug lock granted to " << Describe(next.request);
  return [on_grant = std::move(next.on_grant), waited_behind] {
    on_grant(waited_behind);
  };
}

void TtyLock::Release(uint64_t ticket) {
  std::function<void()> grant;
  {
    absl::MutexLock lock(&mu_);
    if (holder_.has_value() && holder_->ticket == ticket) {
      TETHER_LOG(kInfo) << "debug lock released by "
                        << Describe(holder_->request);
      holder_.reset();
    } else {
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
        if (it->ticket == ticket) {
          waiters_.erase(it);
          break;
        }
      }
    }
    grant = GrantNextLocked();
  }
  if (grant) grant();
}

void TtyLock::Abandon(uint64_t ticket) {
  {
    absl::MutexLock lock(&mu_);
    if (holder_.has_value() && holder_->ticket == ticket) {
      const v1::ActorId& id = holder_->request.requester();
      TETHER_LOG(kWarning) << "debug lock holder " << Describe(holder_->request)
                           << " lost its channel; releasing the lock and "
                              "blocking the actor";
      if (blocked_.emplace(id.uuid(), id).second) {
        blocked_order_.push_back(id.uuid());
      }
      if (blocked_order_.size() > kMaxBlocked) {
        TETHER_LOG(kWarning)
            << "debug lock: more than " << kMaxBlocked
            << " blocked actors; forgetting the one blocked longest ago, ["
            << blocked_order_.front() << "]";
        blocked_.erase(blocked_order_.front());
        blocked_order_.pop_front();
      }
    }
  }
  Release(ticket);
}

v1::DebugStatus TtyLock::Status() const {
  v1::DebugStatus status;
  absl::MutexLock lock(&mu_);
  if (holder_.has_value()) *status.mutable_holder() = holder_->request;
  for (const Waiter& waiter : waiters_) *status.add_waiters() = waiter.request;
  for (const auto& [uuid, id] : blocked_) *status.add_blocked() = id;
  return status;
}

std::optional<v1::DebugLockRequest> TtyLock::holder() const {
  absl::MutexLock lock(&mu_);
  if (!holder_.has_value()) return std::nullopt;
  return holder_->request;
}

}  // namespace tether
