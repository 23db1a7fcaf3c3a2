#include "server/debug_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/time_util.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/value.h"

namespace tether {
namespace {

using google::protobuf::util::TimeUtil;

// The root keeps a request while it waits or holds and lists it in
// Status, so a request stays small.
constexpr size_t kMaxLockRequestBytes = 4 << 10;

// One Debug/Lock stream. Writes are queued (one in flight at a time); the
// grant may arrive from any thread, so it reaches the reactor through a
// Link that OnDone severs before the reactor is deleted.
class LockReactor final : public grpc::ServerBidiReactor<v1::Frame, v1::Frame> {
 public:
  LockReactor(grpc::CallbackServerContext* call, TtyLock* lock,
              v1::ActorId root)
      : call_(call),
        lock_(lock),
        root_(std::move(root)),
        link_(std::make_shared<Link>()) {
    link_->reactor = this;
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // A half-close counts as Stop. A broken call also fails the read
      // (before OnCancel): the requester lost its channel.
      if (phase_ == Phase::kRequested) {
        if (call_->IsCancelled()) return Abandon();
        Release();
      }
      if (phase_ == Phase::kAwaitStart) {
        FinishAfterWrites(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "the stream ended before Start"));
      }
      return;
    }
    switch (phase_) {
      case Phase::kAwaitStart:
        return OnStart();
      case Phase::kRequested:
        if (in_.has_stop()) return Release();
        if (in_.has_cancel()) return Withdraw();
        return Refuse(
            ProtocolError(root_,
                          "after Start, a debug lock stream takes only Stop or "
                          "Cancel"));
      case Phase::kDone:
        return;
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) out_.clear();
    if (!out_.empty()) {
      writing_ = std::move(out_.front());
      out_.pop_front();
      StartWrite(&writing_);
      return;
    }
    write_in_flight_ = false;
    if (finish_.has_value()) Finish(*finish_);
  }

  void OnCancel() override {
    const std::optional<uint64_t> ticket = TakeTicket();
    if (ticket.has_value()) AbandonTicket(*ticket);
    FinishAfterWrites(grpc::Status(grpc::StatusCode::CANCELLED,
                                   "the debug lock stream broke"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&link_->mu);
      link_->reactor = nullptr;
    }
    delete this;
  }

 private:
  enum class Phase { kAwaitStart, kRequested, kDone };

  struct Link {
    absl::Mutex mu;
    LockReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  };

  void OnStart() {
    if (!in_.has_start() || in_.start().function() != kDebugLockFunction) {
      return Refuse(ProtocolError(
          root_, absl::StrCat("a debug lock stream must begin with "
                              "Start{function: \"",
                              kDebugLockFunction, "\"}")));
    }
    absl::StatusOr<Value> args = Value::FromProto(in_.start().args());
    absl::StatusOr<v1::DebugLockRequest> request =
        args.ok() ? args->As<v1::DebugLockRequest>() : args.status();
    if (!request.ok()) {
      return Refuse(ProtocolError(
          root_, absl::StrCat("Start.args: ", request.status().message())));
    }
    if (request->ByteSizeLong() > kMaxLockRequestBytes) {
      return Refuse(ProtocolError(
          root_,
          absl::StrCat("Start.args: a DebugLockRequest of ",
                       request->ByteSizeLong(), " bytes exceeds the limit of ",
                       kMaxLockRequestBytes)));
    }
    v1::Frame ack;
    *ack.mutable_start_ack()->mutable_callee()->mutable_id() = root_;
    ack.mutable_start_ack()->set_kind(v1::FUNCTION_KIND_CONTEXT);
    ack.mutable_start_ack()->set_context_id(in_.start().context_id());
    Send(std::move(ack));

    std::shared_ptr<Link> link = link_;
    absl::StatusOr<uint64_t> ticket =
        lock_->Request(*request, [link](uint32_t waited_behind) {
          absl::MutexLock lock(&link->mu);
          if (link->reactor != nullptr) link->reactor->Granted(waited_behind);
        });
    if (!ticket.ok()) {
      absl::Status refused =
          ContextCancelledError(root_, root_, ticket.status().message());
      v1::Frame error;
      v1::ErrorInfo info = *GetErrorInfo(refused);
      info.set_type(kDebugLockRefusedType);
      *error.mutable_error()->mutable_error() = std::move(info);
      phase_ = Phase::kDone;
      Send(std::move(error));
      FinishAfterWrites(grpc::Status::OK);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      ticket_ = *ticket;
      requester_is_root_ = request->requester().uuid() == root_.uuid();
    }
    // Only now may a Stop arrive: it needs the ticket.
    phase_ = Phase::kRequested;
    StartRead(&in_);
  }

  void Granted(uint32_t waited_behind) {
    v1::DebugLockGrant grant;
    *grant.mutable_granted_at() = TimeUtil::GetCurrentTime();
    grant.set_waited_behind(waited_behind);
    v1::Frame started;
    *started.mutable_started()->mutable_value() =
        Value::Message(grant).ToProto();
    Send(std::move(started));
  }

  // Stop or half-close: the holder is done, or a waiter gives up.
  void Release() {
    phase_ = Phase::kDone;
    const std::optional<uint64_t> ticket = TakeTicket();
    if (ticket.has_value()) lock_->Release(*ticket);
    v1::DebugLockRelease release;
    *release.mutable_released_at() = TimeUtil::GetCurrentTime();
    v1::Frame done;
    *done.mutable_returned()->mutable_value() =
        Value::Message(release).ToProto();
    Send(std::move(done));
    FinishAfterWrites(grpc::Status::OK);
  }

  void Withdraw() {
    phase_ = Phase::kDone;
    const std::optional<uint64_t> ticket = TakeTicket();
    if (ticket.has_value()) lock_->Release(*ticket);
    FinishAfterWrites(
        grpc::Status(grpc::StatusCode::CANCELLED, "withdrawn by the opener"));
  }

  // The channel broke: a holder's actor goes on the blocked list.
  void Abandon() {
    phase_ = Phase::kDone;
    const std::optional<uint64_t> ticket = TakeTicket();
    if (ticket.has_value()) AbandonTicket(*ticket);
    FinishAfterWrites(grpc::Status(grpc::StatusCode::CANCELLED,
                                   "the debug lock stream broke"));
  }

  // A protocol error ends the request: whatever it held or waited for is
  // released.
  void Refuse(const absl::Status& error) {
    phase_ = Phase::kDone;
    const std::optional<uint64_t> ticket = TakeTicket();
    if (ticket.has_value()) lock_->Release(*ticket);
    TETHER_LOG(kWarning) << "debug lock stream: " << error.message();
    v1::Frame frame;
    *frame.mutable_error()->mutable_error() = *GetErrorInfo(error);
    Send(std::move(frame));
    FinishAfterWrites(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   std::string(error.message())));
  }

  // Gives back the ticket of a broken stream. The root itself is never
  // blocked: it cannot lose its channel to itself (its own stream breaks
  // when its prompt's task is cancelled), and a peer naming the root as its
  // requester must not lock the root out of its own terminal.
  void AbandonTicket(uint64_t ticket) {
    bool requester_is_root;
    {
      absl::MutexLock lock(&mu_);
      requester_is_root = requester_is_root_;
    }
    if (requester_is_root) return lock_->Release(ticket);
    lock_->Abandon(ticket);
  }

  // The request's ticket, once: whoever ends the request first gives it
  // back to the lock.
  std::optional<uint64_t> TakeTicket() {
    absl::MutexLock lock(&mu_);
    return std::exchange(ticket_, std::nullopt);
  }

  void Send(v1::Frame frame) {
    absl::MutexLock lock(&mu_);
    if (finish_.has_value()) return;
    if (write_in_flight_) {
      out_.push_back(std::move(frame));
      return;
    }
    write_in_flight_ = true;
    writing_ = std::move(frame);
    StartWrite(&writing_);
  }

  void FinishAfterWrites(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finish_.has_value()) return;
    finish_ = status;
    if (!write_in_flight_) Finish(status);
  }

  grpc::CallbackServerContext* const call_;
  TtyLock* const lock_;
  const v1::ActorId root_;
  const std::shared_ptr<Link> link_;
  v1::Frame in_;
  Phase phase_ = Phase::kAwaitStart;  // reads are sequential

  absl::Mutex mu_;
  std::optional<uint64_t> ticket_ ABSL_GUARDED_BY(mu_);
  // The request names the root (this process) as its requester.
  bool requester_is_root_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  v1::Frame writing_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Frame> out_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerBidiReactor<v1::Frame, v1::Frame>* DebugService::Lock(
    grpc::CallbackServerContext* context) {
  return new LockReactor(context, lock_, root_);
}

grpc::ServerUnaryReactor* DebugService::Status(
    grpc::CallbackServerContext* context, const v1::DebugStatusRequest* request,
    v1::DebugStatus* response) {
  *response = lock_->Status();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace tether
