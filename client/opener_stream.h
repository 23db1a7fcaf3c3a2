// File: client/opener_stream.h
//
// The opener side of tether.v1.Actor/Context, used by Portal; not a public
// API. The call runs on gRPC's async API and its completions go to the
// opening task's CallQueue (rpc/call_queue.h), which that task, or one
// waiting on the context, polls while it waits: a reply is read by the
// thread that waits for it.
//
//   auto stream =
//       OpenerStream::Create(context, stub, peer, &signaller, queue);
//   context->SendControl(start_frame);
//   stream->Start();
//   ... the context runs ...
//   stream->FinishAndWait(absl::Seconds(1));         // before release
//
// What it shares with the callee's end (one read and one write in flight,
// reads paused while the inbox is full) is rpc/frame_pump.h.
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
#include "rpc/frame_pump.h"
#include "rpc/peer_signaller.h"
#include "runtime/context/context_core.h"
#include "runtime/task/wait.h"

namespace tether {

class OpenerStream final
    : public ContextTransport,
      public FramePump<grpc::GenericClientAsyncReaderWriter> {
 public:
  // Binds a tether.v1.Actor/Context call on `stub`'s channel, which
  // dials `peer`, to `queue` and attaches it to `context` (weakly); `stub`
  // and `signaller` must outlive the stream. Signals go to `peer` only,
  // whatever addresses the callee names in its StartAck.
  static std::shared_ptr<OpenerStream> Create(
      std::shared_ptr<ContextCore> context, grpc::GenericStub* stub,
      std::string peer, PeerSignaller* signaller,
      std::shared_ptr<CallQueue> queue);
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
  void ResumeReading() override { FramePump::ResumeReading(); }
  void Finish(const absl::Status& status) override;
  void Signal(const v1::SignalRequest& request) override;

 private:
  // Where the call is in its life.
  enum class Call {
    kPrepared,   // not started: a write waits for Start()
    kStarted,    // frames flow
    kFinishing,  // reading ended and no write is left: the status is asked
    kDone,       // the status arrived and went to the context
  };

  OpenerStream(std::shared_ptr<ContextCore> context, grpc::GenericStub* stub,
               std::string peer, PeerSignaller* signaller,
               std::shared_ptr<CallQueue> queue);

  // FramePump
  ContextCore* OnFrameRead(absl::string_view bytes,
                           absl::string_view problem) override;
  void OnReadClosed() override;
  void OnWriteCompleted(bool ok) override;
  bool ReadsWantedLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void OnFinished(bool ok);
  // Cancels the call; a paused read is started so that it sees the end.
  void CancelCall();
  // Asks for the call's status once reading ended and no write is left.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<ContextCore> context_;
  const std::string peer_;
  PeerSignaller* const signaller_;
  grpc::ClientContext call_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream_;
  grpc::Status status_;
  MemberEvent<OpenerStream> finish_op_{this, &OpenerStream::OnFinished};

  Call state_ ABSL_GUARDED_BY(mu_) = Call::kPrepared;
  // A frame is staged that Start() writes.
  bool write_pending_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tether

#endif  // TETHER_CLIENT_OPENER_STREAM_H_
