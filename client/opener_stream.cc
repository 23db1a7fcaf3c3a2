#include "client/opener_stream.h"

#include "grpcpp/support/slice.h"
#include "grpcpp/support/stub_options.h"
#include "runtime/status_conversion.h"

namespace tether {
namespace {

// The full name of the tether.v1.Actor/Context method, which the generic
// stub calls by name.
constexpr char kContextMethod[] = "/tether.v1.Actor/Context";

using Reactor = grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

}  // namespace

std::shared_ptr<OpenerStream> OpenerStream::Create(
    std::shared_ptr<Context> context, grpc::GenericStub* stub,
    PeerSignaller* signaller) {
  std::shared_ptr<OpenerStream> stream(
      new OpenerStream(std::move(context), stub, signaller));
  stream->context_->Attach(stream);
  return stream;
}

OpenerStream::OpenerStream(std::shared_ptr<Context> context,
                           grpc::GenericStub* stub, PeerSignaller* signaller)
    : context_(std::move(context)), signaller_(signaller) {
  // The call's headers go out with the Start frame, in one write.
  call_.set_initial_metadata_corked(true);
  stub->PrepareBidiStreamingCall(&call_, kContextMethod, grpc::StubOptions(),
                                 this);
}

void OpenerStream::Start() {
  Reactor::StartRead(&in_);
  StartCall();
}

void OpenerStream::FinishAndWait(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (mu_.AwaitWithTimeout(absl::Condition(&done_), grace)) return;
  call_.TryCancel();
  mu_.Await(absl::Condition(&done_));
}

void OpenerStream::OnReadDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    read_closed_ = true;
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
  // Pause first, then ask: a ResumeReading() racing with the question
  // either finds the pause and starts the read itself, or comes before it
  // and makes the answer yes. Either way exactly one read is started.
  {
    absl::MutexLock lock(&mu_);
    reading_paused_ = true;
  }
  if (context_->ShouldRead()) ResumeReading();
}

void OpenerStream::OnWriteDone(bool ok) { context_->OnWriteDone(ok); }

void OpenerStream::OnDone(const grpc::Status& status) {
  {
    absl::MutexLock write_lock(&write_mu_);
    absl::MutexLock lock(&mu_);
    call_ended_ = true;
  }
  context_->OnTransportDone(ToAbslStatus(status));
  // Last: FinishAndWait may release this stream as soon as it sees done_.
  absl::MutexLock lock(&mu_);
  done_ = true;
}

void OpenerStream::StartWrite(absl::string_view frame, bool last) {
  grpc::Slice slice(frame.data(), frame.size());
  grpc::ByteBuffer buffer(&slice, 1);
  {
    // gRPC frees its side of the call after OnDone; a write racing with the
    // end of the call must not reach it.
    absl::MutexLock lock(&write_mu_);
    if (!call_ended_) {
      out_.Swap(&buffer);  // The previous write is done with out_.
      Reactor::StartWrite(&out_);
      return;
    }
  }
  context_->OnWriteDone(false);
}

void OpenerStream::ResumeReading() {
  absl::MutexLock lock(&mu_);
  if (!reading_paused_ || read_closed_ || call_ended_) return;
  reading_paused_ = false;
  Reactor::StartRead(&in_);
}

void OpenerStream::Finish(const absl::Status& status) { call_.TryCancel(); }

void OpenerStream::Signal(const v1::SignalRequest& request) {
  signaller_->Send(context_->peer_ref().addresses(), request);
}

}  // namespace tether
