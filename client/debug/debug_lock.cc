#include "client/debug/debug_lock.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/async_stream.h"
#include "rpc/call_queue.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"
#include "runtime/base/uuid.h"
#include "runtime/debug/tty_lock.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"
#include "tether/task.h"
#include "tether/v1/debug.grpc.pb.h"
#include "tether/value.h"

namespace tether {
namespace {

// How long a release waits for the root's Return before giving up on it.
constexpr absl::Duration kReleaseTimeout = absl::Seconds(2);

// One Debug/Lock stream: writes Start, later Stop; reads StartAck, then
// Started (granted) or Error (refused), then Return. It runs on a
// completion queue of its own, polled by whichever thread waits on it.
class LockCall final {
 public:
  LockCall(const Address& root, const v1::DebugLockRequest& request,
           const TreeToken& token)
      : stub_(v1::Debug::NewStub(DialTree(root.ToString(), token))) {
    v1::Start* start = start_.mutable_start();
    start->set_function(kDebugLockFunction);
    start->set_kind(v1::FUNCTION_KIND_CONTEXT);
    start->set_context_id(NewUuid());
    *start->mutable_args() = Value::Message(request).ToProto();
    absl::MutexLock lock(&mu_);
    waiters_.SetPoller(queue_);
  }

  void Begin() {
    // Corked: the headers go out with Start, and the call's start has no
    // completion of its own (it would share the write's operation set).
    context_.set_initial_metadata_corked(true);
    stream_ = stub_->PrepareAsyncLock(&context_, queue_->cq());
    absl::MutexLock lock(&mu_);
    stream_->StartCall(nullptr);
    write_in_flight_ = true;
    stream_->Write(start_, &wrote_);
    stream_->Read(&in_, &read_);
  }

  // Waits for the grant. A refusal, a broken stream or the task's
  // cancellation (which withdraws the request) is an error.
  absl::Status AwaitGrant() {
    absl::Status waited;
    {
      absl::MutexLock lock(&mu_);
      waited = AwaitLocked(
          mu_, waiters_,
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return granted_ || error_.has_value() || OverLocked();
          },
          absl::InfiniteFuture());
      if (waited.ok()) {
        if (granted_) return absl::OkStatus();
        if (error_.has_value()) return *error_;
        return absl::UnavailableError(
            absl::StrCat("the debug lock stream ended: ", status_.message()));
      }
    }
    // Cancelled: withdraw with Stop, which also gives back a grant that
    // crossed the cancellation. Breaking the stream instead would make the
    // root block this actor as one that lost its channel while holding.
    Release();
    return waited;
  }

  void Release() {
    absl::MutexLock lock(&mu_);
    if (released_ || OverLocked()) return;
    released_ = true;
    if (write_in_flight_) {
      stop_pending_ = true;
    } else {
      write_in_flight_ = true;
      WriteStopLocked();
    }
    if (!AwaitOverLocked(absl::Now() + kReleaseTimeout)) {
      context_.TryCancel();
      AwaitOverLocked(absl::InfiniteFuture());
    }
  }

  // Waits for gRPC to finish with the call (after a refusal or a release).
  void AwaitDone() {
    absl::MutexLock lock(&mu_);
    AwaitOverLocked(absl::InfiniteFuture());
  }

 private:
  void OnWritten(bool ok) {
    absl::MutexLock lock(&mu_);
    waiters_.NotifyAll();
    if (ok && stop_pending_) {
      stop_pending_ = false;
      WriteStopLocked();
      return;
    }
    write_in_flight_ = false;
    if (ok && stop_written_) {
      closing_ = true;
      stream_->WritesDone(&closed_);
    }
  }

  void OnClosed(bool) {
    absl::MutexLock lock(&mu_);
    closing_ = false;
    waiters_.NotifyAll();
  }

  void OnRead(bool ok) {
    absl::MutexLock lock(&mu_);
    waiters_.NotifyAll();
    if (!ok) {  // The call is ending: its status follows.
      stream_->Finish(&grpc_status_, &finished_);
      return;
    }
    if (in_.has_started()) granted_ = true;
    if (in_.has_error()) error_ = MakeError(in_.error().error());
    stream_->Read(&in_, &read_);
  }

  void OnFinished(bool) {
    absl::MutexLock lock(&mu_);
    status_ = ToAbslStatus(grpc_status_);
    finished_call_ = true;
    waiters_.NotifyAll();
  }

  void WriteStopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    stop_.mutable_stop();
    stop_written_ = true;
    stream_->Write(stop_, &wrote_);
  }

  // gRPC is done with the call: its status is in and no operation is
  // outstanding.
  bool OverLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_call_ && !write_in_flight_ && !closing_;
  }

  // False if `deadline` passed first.
  bool AwaitOverLocked(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return AwaitLockedShielded(
        mu_, waiters_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return OverLocked(); },
        deadline);
  }

  const std::shared_ptr<CallQueue> queue_ = std::make_shared<CallQueue>();
  const std::unique_ptr<v1::Debug::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::Frame, v1::Frame>> stream_;
  v1::Frame start_;
  v1::Frame stop_;
  v1::Frame in_;
  grpc::Status grpc_status_;
  MemberEvent<LockCall> wrote_{this, &LockCall::OnWritten};
  MemberEvent<LockCall> closed_{this, &LockCall::OnClosed};
  MemberEvent<LockCall> read_{this, &LockCall::OnRead};
  MemberEvent<LockCall> finished_{this, &LockCall::OnFinished};

  absl::Mutex mu_;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_written_ ABSL_GUARDED_BY(mu_) = false;
  bool granted_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_call_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> error_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

class Hold final : public DebugLockHold {
 public:
  explicit Hold(std::unique_ptr<LockCall> call) : call_(std::move(call)) {}
  ~Hold() override { call_->Release(); }
  void Release() override { call_->Release(); }

 private:
  const std::unique_ptr<LockCall> call_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DebugLockHold>> AcquireDebugLock(
    const Address& root, const v1::DebugLockRequest& request,
    const TreeToken& token) {
  auto call = std::make_unique<LockCall>(root, request, token);
  call->Begin();
  const absl::Status granted = call->AwaitGrant();
  if (!granted.ok()) {
    call->AwaitDone();
    return granted;
  }
  return std::make_unique<Hold>(std::move(call));
}

bool IsDebugLockRefused(const absl::Status& status) {
  std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  return info.has_value() && info->type() == kDebugLockRefusedType;
}

}  // namespace tether
