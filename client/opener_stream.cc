#include "client/opener_stream.h"

#include "grpcpp/support/slice.h"
#include "rpc/status_conversion.h"
#include "runtime/task/wait.h"

namespace tether {
namespace {

constexpr char kContextMethod[] = "/tether.v1.Actor/Context";

}  // namespace

std::shared_ptr<OpenerStream> OpenerStream::Create(
    std::shared_ptr<ContextCore> context, grpc::GenericStub* stub,
    PeerSignaller* signaller, std::shared_ptr<CallQueue> queue) {
  std::shared_ptr<OpenerStream> stream(
      new OpenerStream(std::move(context), stub, signaller, std::move(queue)));
  stream->context_->Attach(stream);
  stream->context_->SetPoller(stream->queue_);
  return stream;
}

OpenerStream::OpenerStream(std::shared_ptr<ContextCore> context,
                           grpc::GenericStub* stub, PeerSignaller* signaller,
                           std::shared_ptr<CallQueue> queue)
    : context_(std::move(context)),
      signaller_(signaller),
      queue_(std::move(queue)) {
  waiters_.SetPoller(queue_);
  call_.set_initial_metadata_corked(true);
  stream_ = stub->PrepareCall(&call_, kContextMethod, queue_->cq());
}

void OpenerStream::Start() {
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  call_started_ = true;
  // The headers are corked: they leave with the first write, and this tag
  // never completes.
  stream_->StartCall(nullptr);
  if (write_pending_) {
    write_pending_ = false;
    stream_->Write(out_, &write_op_);
  }
  StartReadLocked();
}

void OpenerStream::StartReadLocked() {
  reading_ = true;
  stream_->Read(&in_, &read_op_);
}

void OpenerStream::OnReadDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    read_closed_ = true;
    MaybeFinishLocked();
    return;
  }
  grpc::Slice slice;
  if (in_.DumpToSingleSlice(&slice).ok()) {
    context_->OnFrame(absl::string_view(
        reinterpret_cast<const char*>(slice.begin()), slice.size()));
  } else {
    context_->OnBadFrame("a frame could not be read");
  }
  in_.Clear();
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    reading_paused_ = true;
  }
  if (context_->ShouldRead()) ResumeReading();
}

void OpenerStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    MaybeFinishLocked();
  }
  context_->OnWriteDone(ok);
}

void OpenerStream::MaybeFinishLocked() {
  // Finish once reading ended and nothing else is outstanding.
  if (!read_closed_ || finishing_ || writing_) return;
  finishing_ = true;
  stream_->Finish(&status_, &finish_op_);
}

void OpenerStream::OnFinished(bool ok) {
  context_->OnTransportDone(ToAbslStatus(status_));
  absl::MutexLock lock(&mu_);
  done_ = true;
  waiters_.NotifyAll();
}

void OpenerStream::FinishAndWait(absl::Duration grace) {
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; };
  {
    absl::MutexLock lock(&mu_);
    if (AwaitLockedShielded(mu_, waiters_, done, absl::Now() + grace)) return;
  }
  CancelCall();
  absl::MutexLock lock(&mu_);
  AwaitLockedShielded(mu_, waiters_, done, absl::InfiniteFuture());
}

void OpenerStream::StartWrite(absl::string_view frame, bool last) {
  grpc::Slice slice(frame.data(), frame.size());
  grpc::ByteBuffer buffer(&slice, 1);
  {
    absl::MutexLock write_lock(&write_mu_);
    bool ok;
    bool started;
    {
      // writing_ keeps Finish away until the write completes.
      absl::MutexLock lock(&mu_);
      ok = !finishing_;
      started = call_started_;
      writing_ = writing_ || ok;
      write_pending_ = ok && !started;  // Start() writes it.
    }
    if (ok) {
      out_.Swap(&buffer);
      // Without mu_: gRPC may write all the way to the socket here, and a
      // read's handling must not wait for that.
      if (started) stream_->Write(out_, &write_op_);
      return;
    }
  }
  context_->OnWriteDone(false);
}

void OpenerStream::ResumeReading() {
  absl::MutexLock lock(&mu_);
  if (!reading_paused_ || read_closed_ || finishing_ || reading_) return;
  reading_paused_ = false;
  StartReadLocked();
}

void OpenerStream::Finish(const absl::Status& status) { CancelCall(); }

void OpenerStream::CancelCall() {
  call_.TryCancel();
  // A paused read would never see the end of the call: start one, which
  // fails at once.
  absl::MutexLock lock(&mu_);
  if (reading_paused_ && !read_closed_ && !reading_) {
    reading_paused_ = false;
    StartReadLocked();
  }
}

void OpenerStream::Signal(const v1::SignalRequest& request) {
  signaller_->Send(context_->peer_ref().addresses(), request);
}

}  // namespace tether
