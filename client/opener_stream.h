// File: client/opener_stream.h
//
// The opener side of tether.v1.Actor/Context: a gRPC client reactor that
// moves frames between one stream and its Context. Used by Portal; not a
// public API.
//
//   auto stream = OpenerStream::Create(context, stub, &signaller);
//   context->SendControl(start_frame);
//   stream->Start();
//   ... the context runs ...
//   stream->FinishAndWait(absl::Seconds(1));         // before release
//
// Thread-safe; reactions run on gRPC threads and never block.

#ifndef TETHER_CLIENT_OPENER_STREAM_H_
#define TETHER_CLIENT_OPENER_STREAM_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "runtime/context.h"
#include "runtime/peer_signaller.h"
#include "tether/v1/actor.pb.h"

namespace tether {

// Frames cross the stream as bytes: the context serializes and decodes
// them itself (runtime/yield_wire.h).
class OpenerStream final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
      public ContextTransport {
 public:
  // Binds a tether.v1.Actor/Context call on `stub`'s channel and attaches
  // to `context` (weakly); `stub` and `signaller` must outlive the stream.
  static std::shared_ptr<OpenerStream> Create(std::shared_ptr<Context> context,
                                              grpc::GenericStub* stub,
                                              PeerSignaller* signaller);
  // REQUIRES: FinishAndWait() returned.
  ~OpenerStream() override = default;

  // Starts the call and the first read. Frames queued before are sent.
  void Start();

  // Waits up to `grace` for the callee to end the call, then cancels it;
  // returns once gRPC is done with the stream.
  void FinishAndWait(absl::Duration grace);

  // grpc::ClientBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // ContextTransport
  // `last` changes nothing: a client has no status to end the call with.
  void StartWrite(absl::string_view frame, bool last) override;
  void ResumeReading() override;
  void Finish(const absl::Status& status) override;
  void Signal(const v1::SignalRequest& request) override;

 private:
  OpenerStream(std::shared_ptr<Context> context, grpc::GenericStub* stub,
               PeerSignaller* signaller);

  const std::shared_ptr<Context> context_;
  PeerSignaller* const signaller_;
  grpc::ClientContext call_;
  // Only the single outstanding read touches it.
  grpc::ByteBuffer in_;

  // Two locks, so that reads never wait for a write: StartWrite holds
  // write_mu_ while gRPC writes, often all the way to the socket. Lock
  // order: write_mu_, then mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  // The frame being written.
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(write_mu_);
  bool reading_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  // gRPC has begun OnDone: its side of the call may be gone. Written with
  // both locks held, read with either.
  bool call_ended_ = false;
  // OnDone has finished with this object.
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tether

#endif  // TETHER_CLIENT_OPENER_STREAM_H_
