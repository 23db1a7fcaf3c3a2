// File: runtime/context/context_transport.h
//
// What carries a context's frames: one gRPC stream, the callee's
// (server/context_call.h) or the opener's (client/opener_stream.h). The
// runtime defines the interface so that contexts never see gRPC; a
// transport calls the context back (ContextCore::OnFrame, OnWriteDone,
// OnTransportDone, ...) as its stream's events complete.
//
//   class MyStream final : public ContextTransport { ... };
//   context->Attach(stream);   // a weak reference: the stream may go first
//
// Thread-safety: per method below.

#ifndef TETHER_RUNTIME_CONTEXT_CONTEXT_TRANSPORT_H_
#define TETHER_RUNTIME_CONTEXT_CONTEXT_TRANSPORT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tether/v1/actor.pb.h"

namespace tether {

// Implemented by the gRPC stream that carries one context.
class ContextTransport {
 public:
  virtual ~ContextTransport() = default;
  // Starts writing `frame`, a serialized tether.v1.Frame whose bytes stay
  // valid and unchanged until the transport calls ContextCore::OnWriteDone.
  // Never called again before that, nor with the context's locks held.
  // `last`: nothing is written after this frame, and Finish follows once
  // its write is done. A transport may then report the write done at once
  // and send the frame with the end of the call, in one step.
  virtual void StartWrite(absl::string_view frame, bool last) = 0;
  // The inbox wants reads again after it paused them.
  virtual void ResumeReading() = 0;
  // Callee: every frame is written; end the RPC with `status`. Opener: the
  // context is over; cancel the RPC if the callee has not ended it.
  virtual void Finish(const absl::Status& status) = 0;
  // Delivers urgent control out of band (Actor/Signal to the peer's
  // addresses). May do nothing when the peer has no address.
  virtual void Signal(const v1::SignalRequest& request) = 0;
};

}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_CONTEXT_TRANSPORT_H_
