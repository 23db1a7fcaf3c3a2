#include "client/opener_stream.h"

#include "rpc/status_conversion.h"
#include "runtime/task/wait.h"

namespace tether {
namespace {

constexpr char kContextMethod[] = "/tether.v1.Actor/Context";

}  // namespace

std::shared_ptr<OpenerStream> OpenerStream::Create(
    std::shared_ptr<ContextCore> context, grpc::GenericStub* stub,
    std::string peer, PeerSignaller* signaller,
    std::shared_ptr<CallQueue> queue) {
  std::shared_ptr<OpenerStream> stream(new OpenerStream(
      std::move(context), stub, std::move(peer), signaller, std::move(queue)));
  stream->context_->Attach(stream);
  stream->context_->SetPoller(stream->queue_);
  return stream;
}

OpenerStream::OpenerStream(std::shared_ptr<ContextCore> context,
                           grpc::GenericStub* stub, std::string peer,
                           PeerSignaller* signaller,
                           std::shared_ptr<CallQueue> queue)
    : FramePump(std::move(queue), /*max_frame_bytes=*/0),
      context_(std::move(context)),
      peer_(std::move(peer)),
      signaller_(signaller) {
  call_.set_initial_metadata_corked(true);
  stream_ = stub->PrepareCall(&call_, kContextMethod, queue_->cq());
  set_stream(stream_.get());
}

void OpenerStream::Start() {
  absl::MutexLock write_lock(&write_mu_);
  bool write_pending;
  {
    absl::MutexLock lock(&mu_);
    state_ = Call::kStarted;
    // The headers are corked: they leave with the first write, and this
    // tag never completes.
    stream_->StartCall(nullptr);
    write_pending = std::exchange(write_pending_, false);
  }
  if (write_pending) WriteStaged();
  absl::MutexLock lock(&mu_);
  StartReadLocked();
}

ContextCore* OpenerStream::OnFrameRead(absl::string_view bytes,
                                       absl::string_view problem) {
  if (problem.empty()) {
    context_->OnFrame(bytes);
  } else {
    context_->OnBadFrame(problem);
  }
  return context_.get();
}

void OpenerStream::OnReadClosed() {
  absl::MutexLock lock(&mu_);
  MaybeFinishLocked();
}

bool OpenerStream::ReadsWantedLocked() const {
  return state_ == Call::kStarted;
}

void OpenerStream::OnWriteCompleted(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    MaybeFinishLocked();
  }
  context_->OnWriteDone(ok);
}

void OpenerStream::MaybeFinishLocked() {
  // Finish once reading ended and nothing else is outstanding.
  if (reading_ != Reading::kClosed || state_ != Call::kStarted || writing_) {
    return;
  }
  state_ = Call::kFinishing;
  stream_->Finish(&status_, &finish_op_);
}

void OpenerStream::OnFinished(bool ok) {
  context_->OnTransportDone(ToAbslStatus(status_));
  absl::MutexLock lock(&mu_);
  state_ = Call::kDone;
  waiters_.NotifyAll();
}

void OpenerStream::FinishAndWait(absl::Duration grace) {
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == Call::kDone;
  };
  {
    absl::MutexLock lock(&mu_);
    if (AwaitLockedShielded(mu_, waiters_, done, absl::Now() + grace)) return;
  }
  CancelCall();
  absl::MutexLock lock(&mu_);
  AwaitLockedShielded(mu_, waiters_, done, absl::InfiniteFuture());
}

void OpenerStream::StartWrite(absl::string_view frame, bool last) {
  {
    absl::MutexLock write_lock(&write_mu_);
    bool ok;
    bool started;
    {
      // writing_ keeps Finish away until the write completes.
      absl::MutexLock lock(&mu_);
      ok = state_ == Call::kPrepared || state_ == Call::kStarted;
      started = state_ == Call::kStarted;
      writing_ = writing_ || ok;
      write_pending_ = ok && !started;  // Start() writes it.
    }
    if (ok) {
      StageWrite(frame);
      if (started) WriteStaged();
      return;
    }
  }
  context_->OnWriteDone(false);
}

void OpenerStream::Finish(const absl::Status& status) { CancelCall(); }

void OpenerStream::CancelCall() {
  call_.TryCancel();
  // A paused read would never see the end of the call: start one, which
  // fails at once.
  absl::MutexLock lock(&mu_);
  if (reading_ == Reading::kPaused) StartReadLocked();
}

void OpenerStream::Signal(const v1::SignalRequest& request) {
  signaller_->Send(peer_, request);
}

}  // namespace tether
