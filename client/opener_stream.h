// File: client/opener_stream.h
//
// The opener side of tether.v1.Actor/Context, used by Portal; not a public
// API. The call runs on gRPC's async API and its completions go to the
// opening task's CallQueue (rpc/call_queue.h), which that task, or one
// waiting on the context, polls while it waits: a reply is read by the
// thread that waits for it.
//
//   auto stream = OpenerStream::Create(context, stub, &signaller, queue);
//   context->SendControl(start_frame);
//   stream->Start();
//   ... the context runs ...
//   stream->FinishAndWait(absl::Seconds(1));         // before release
//
// Thread-safe.

#ifndef TETHER_CLIENT_OPENER_STREAM_H_
#define TETHER_CLIENT_OPENER_STREAM_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "rpc/call_queue.h"
#include "rpc/peer_signaller.h"
#include "runtime/context/context_core.h"
#include "runtime/task/wait.h"

namespace tether {

class OpenerStream final : public ContextTransport {
 public:
  // Binds a tether.v1.Actor/Context call on `stub`'s channel to `queue`
  // and attaches it to `context` (weakly); `stub` and `signaller` must
  // outlive the stream.
  static std::shared_ptr<OpenerStream> Create(
      std::shared_ptr<ContextCore> context, grpc::GenericStub* stub,
      PeerSignaller* signaller, std::shared_ptr<CallQueue> queue);
  ~OpenerStream() override = default;

  // Starts the call and the first read. A frame queued before is sent
  // with the call's headers.
  void Start();
  // Waits, polling the queue, up to `grace` for the callee to end the
  // call, then cancels it; returns once gRPC is done with the call.
  void FinishAndWait(absl::Duration grace);

  // ContextTransport
  // `last` changes nothing: a client has no status to end the call with.
  void StartWrite(absl::string_view frame, bool last) override;
  void ResumeReading() override;
  void Finish(const absl::Status& status) override;
  void Signal(const v1::SignalRequest& request) override;

 private:
  OpenerStream(std::shared_ptr<ContextCore> context, grpc::GenericStub* stub,
               PeerSignaller* signaller, std::shared_ptr<CallQueue> queue);

  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  void OnFinished(bool ok);
  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cancels the call; a paused read is started so that it sees the end.
  void CancelCall();
  // Asks for the call's status once reading ended and no write is left.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<ContextCore> context_;
  PeerSignaller* const signaller_;
  const std::shared_ptr<CallQueue> queue_;
  grpc::ClientContext call_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream_;
  grpc::ByteBuffer in_;
  grpc::Status status_;
  MemberEvent<OpenerStream> read_op_{this, &OpenerStream::OnReadDone};
  MemberEvent<OpenerStream> write_op_{this, &OpenerStream::OnWriteDone};
  MemberEvent<OpenerStream> finish_op_{this, &OpenerStream::OnFinished};

  // Two locks, so that handling a read never waits for a write: a task's
  // StartWrite holds write_mu_ while gRPC writes, often all the way to the
  // socket. Lock order: write_mu_, then mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(write_mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool call_started_ ABSL_GUARDED_BY(mu_) = false;
  // A write came before Start(), which issues it.
  bool write_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  // The call's status arrived and was handed to the context.
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  // FinishAndWait waits here, polling queue_.
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_CLIENT_OPENER_STREAM_H_
