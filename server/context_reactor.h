// File: server/context_reactor.h
//
// The callee side of tether.v1.Actor/Context: one reactor per stream. It
// parses frames itself (the method is registered raw), so a frame that is
// garbage or too large is answered with a protocol Error frame rather than
// a bare gRPC failure. The first frame must be Start; the reactor looks the
// function up, checks the arguments, answers StartAck (or a lone Error) and
// hands the context to the actor's serving tasks. After that it only moves
// frames between gRPC and the Context.
//
// Owns itself: created by the service handler through Create(), released in
// OnDone(); the Context holds it only weakly, so a task still finishing
// after the call ended keeps it alive just for the call it is making.
// Never blocks; reactions may run concurrently on gRPC threads.

#ifndef TETHER_SERVER_CONTEXT_REACTOR_H_
#define TETHER_SERVER_CONTEXT_REACTOR_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "runtime/actor_runtime.h"
#include "runtime/context.h"
#include "runtime/peer_signaller.h"

namespace tether {

// Largest serialized frame an actor accepts; announced in StartAck.
inline constexpr size_t kMaxFrameBytes = 4 << 20;

class ContextReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
      public ContextTransport {
 public:
  // The reactor for one new call; gRPC drives it from here on.
  static ContextReactor* Create(ActorRuntime* runtime,
                                PeerSignaller* signaller);

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // ContextTransport
  // Holds a `last` frame back and reports it written: Finish sends it with
  // the call's status in one step (one write, no OnWriteDone to wait for).
  void StartWrite(absl::string_view frame, bool last) override;
  void ResumeReading() override;
  void Finish(const absl::Status& status) override;
  void Signal(const v1::SignalRequest& request) override;

 private:
  ContextReactor(ActorRuntime* runtime, PeerSignaller* signaller);

  // Handles the first frame; false when the stream is being finished.
  void OnStart(const v1::Frame& frame);
  // Answers a Start that cannot run with a lone Error, then finishes.
  void Refuse(const absl::Status& error);
  // Issues the next read unless the context wants to pause.
  void MaybeRead() ABSL_LOCKS_EXCLUDED(mu_);

  ActorRuntime* const runtime_;
  PeerSignaller* const signaller_;
  // This reactor, until OnDone().
  std::shared_ptr<ContextReactor> self_;
  // The context, once Start was accepted.
  std::shared_ptr<Context> context();

  // Written by OnStart before any write or Signal can happen; read-only
  // afterwards.
  v1::ActorRef opener_;
  // Only the single outstanding read touches it.
  grpc::ByteBuffer in_;

  // Two locks, so that reads never wait for a write: a task's StartWrite
  // holds write_mu_ while gRPC writes, often all the way to the socket.
  // Lock order: write_mu_, then mu_. Fields marked "both" are written with
  // both held and read with either.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::shared_ptr<Context> context_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(write_mu_);
  bool reading_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  // OnCancel ran; it may have run before context_ was set.
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // Both.
  bool finished_ = false;
  // out_ holds the last frame, which Finish sends.
  bool holding_last_ ABSL_GUARDED_BY(write_mu_) = false;
  // Both. A lone Error was written; Finish with refusal_ when it is done.
  bool refusing_ = false;
  absl::Status refusal_ ABSL_GUARDED_BY(write_mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_CONTEXT_REACTOR_H_
