#include "server/debug/debug_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/alarm.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "rpc/call_queue.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "tether/errors.h"
#include "tether/value.h"

namespace tether {
namespace {

using google::protobuf::util::TimeUtil;

// The root keeps a request while it waits or holds and lists it in
// Status, so a request stays small.
constexpr size_t kMaxLockRequestBytes = 4 << 10;

}  // namespace

// One Debug/Lock stream. Writes are queued (one in flight at a time); the
// grant may arrive from any thread, so it reaches the call through a Link
// that is severed once gRPC is done with the call. Every other event runs
// on the thread that drains the server's queue; the call frees itself
// there once nothing is outstanding.
class DebugService::LockCall {
 public:
  explicit LockCall(DebugService* service)
      : service_(service),
        live_(service->requester_),
        lock_(service->lock_),
        root_(service->root_),
        link_(std::make_shared<Link>()) {
    link_->call = this;
    context_.AsyncNotifyWhenDone(&done_event_);
  }

  bool Request() {
    grpc::ServerCompletionQueue* queue = service_->requester_->queue();
    return service_->requester_->Request([&] {
      service_->RequestLock(&context_, &stream_, queue, queue, &arrived_);
    });
  }

 private:
  enum class Phase { kAwaitStart, kRequested, kDone };

  struct Link {
    absl::Mutex mu;
    LockCall* call ABSL_GUARDED_BY(mu) = nullptr;
  };

  void OnArrived(bool ok) {
    if (!ok) {  // The server shut down first: no call, so no other event.
      delete this;
      return;
    }
    service_->RequestNextLock();
    const grpc::Status admitted = service_->requester_->Admit(context_);
    if (!admitted.ok()) {
      phase_ = Phase::kDone;
      return FinishAfterWrites(admitted);
    }
    StartRead();
  }

  void StartRead() {
    reading_ = true;
    stream_.Read(&in_, &read_);
  }

  void OnRead(bool ok) {
    reading_ = false;
    HandleRead(ok);
    FreeIfOver();
  }

  void HandleRead(bool ok) {
    if (!ok) {
      if (phase_ == Phase::kAwaitStart) {
        FinishAfterWrites(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "the stream ended before Start"));
      }
      // A half-close counts as Stop; a broken call (the requester lost
      // its channel) fails the read too, and its end of call follows.
      // Whether the call is cancelled is known only once that event was
      // handled, so the decision waits for an alarm queued behind it.
      if (phase_ == Phase::kRequested && !done_) {
        settling_ = true;
        settle_.Set(service_->requester_->queue(), gpr_now(GPR_CLOCK_MONOTONIC),
                    &settled_);
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

  // The read ended and the end of call, if the call broke, was handled.
  void OnSettled(bool) {
    settling_ = false;
    if (!done_ && phase_ == Phase::kRequested) Release();
    FreeIfOver();
  }

  void OnWritten(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      if (!ok) out_.clear();
      if (!out_.empty()) {
        writing_ = std::move(out_.front());
        out_.pop_front();
        stream_.Write(writing_, &wrote_);
        return;
      }
      write_in_flight_ = false;
      if (finish_.has_value() && !finishing_) StartFinishLocked();
    }
    FreeIfOver();
  }

  void OnFinished(bool) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = false;
    }
    FreeIfOver();
  }

  // The call ended: finished, or broken (the requester cancelled it or
  // lost its channel), which gives the ticket back as abandoned.
  void OnDone(bool) {
    done_ = true;
    {
      absl::MutexLock lock(&link_->mu);
      link_->call = nullptr;
    }
    if (context_.IsCancelled()) {
      phase_ = Phase::kDone;
      const std::optional<uint64_t> ticket = TakeTicket();
      if (ticket.has_value()) AbandonTicket(*ticket);
    }
    FreeIfOver();
  }

  // Runs on the draining thread: once gRPC is done with the call (and the
  // link is severed, so no grant can start a write), the last outstanding
  // operation frees it.
  void FreeIfOver() {
    bool over;
    {
      absl::MutexLock lock(&mu_);
      over =
          done_ && !reading_ && !settling_ && !write_in_flight_ && !finishing_;
    }
    if (over) delete this;
  }

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
          if (link->call != nullptr) link->call->Granted(waited_behind);
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
    StartRead();
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
    stream_.Write(writing_, &wrote_);
  }

  void FinishAfterWrites(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finish_.has_value()) return;
    finish_ = status;
    if (!write_in_flight_) StartFinishLocked();
  }

  void StartFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finishing_ = true;
    stream_.Finish(*finish_, &finished_);
  }

  DebugService* const service_;
  const CallRequester::LiveCall live_;
  TtyLock* const lock_;
  const v1::ActorId root_;
  const std::shared_ptr<Link> link_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<v1::Frame, v1::Frame> stream_{&context_};
  grpc::Alarm settle_;
  MemberEvent<LockCall> arrived_{this, &LockCall::OnArrived};
  MemberEvent<LockCall> read_{this, &LockCall::OnRead};
  MemberEvent<LockCall> settled_{this, &LockCall::OnSettled};
  MemberEvent<LockCall> wrote_{this, &LockCall::OnWritten};
  MemberEvent<LockCall> finished_{this, &LockCall::OnFinished};
  MemberEvent<LockCall> done_event_{this, &LockCall::OnDone};
  v1::Frame in_;
  // On the draining thread only.
  Phase phase_ = Phase::kAwaitStart;
  bool reading_ = false;
  bool settling_ = false;
  bool done_ = false;

  absl::Mutex mu_;
  std::optional<uint64_t> ticket_ ABSL_GUARDED_BY(mu_);
  // The request names the root (this process) as its requester.
  bool requester_is_root_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  v1::Frame writing_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Frame> out_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
};

void DebugService::StartServing(CallRequester* requester) {
  requester_ = requester;
  status_.Start(requester);
  RequestNextLock();
}

void DebugService::RequestNextLock() {
  auto* call = new LockCall(this);
  if (!call->Request()) delete call;
}

}  // namespace tether
