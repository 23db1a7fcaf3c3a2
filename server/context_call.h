// File: server/context_call.h
//
// The callee side of tether.v1.Actor/Context: one call, served from its
// first frame to its end by one serving task. The call runs on gRPC's async
// API with a completion queue of its own (rpc/call_queue.h), which the
// serving task polls whenever it waits: a frame from the opener is read by
// the very thread that waits for it, with no hand-off from a gRPC thread.
//
// The method is registered raw, so the call parses frames itself: a frame
// that is garbage or too large is answered with a protocol Error frame
// rather than a bare gRPC failure. The first frame must be Start; the call
// looks the function up, checks the arguments, answers StartAck (or a lone
// Error) and runs the function on its task (ActorCore::RunServed).
// After that it only moves frames between gRPC and the Context.
//
//   auto call = std::make_shared<ContextCall>(runtime, signaller);
//   call->Request(service, new_calls, tag);    // server/call_acceptor.h
//   ... `tag` completes: a call arrived ...
//   runtime->SpawnServingTask([call] { call->Serve(); });
//
// What it shares with the opener's end (one read and one write in flight,
// reads paused while the inbox is full) is rpc/frame_pump.h.
//
// Thread-safe: events are handled by whichever thread polls the queue (the
// serving task, a task waiting on the context, the timer thread); the
// context's tasks start writes from their own threads.

#ifndef TETHER_SERVER_CONTEXT_CALL_H_
#define TETHER_SERVER_CONTEXT_CALL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/byte_buffer.h"
#include "rpc/call_queue.h"
#include "rpc/frame_pump.h"
#include "rpc/peer_signaller.h"
#include "runtime/actor/actor_core.h"
#include "runtime/context/context_core.h"
#include "runtime/task/wait.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

// Largest serialized frame an actor accepts; announced in StartAck.
inline constexpr size_t kMaxFrameBytes = 4 << 20;

using ServerFrameStream =
    grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;

class ContextCall final : public ContextTransport,
                          public FramePump<ServerFrameStream>,
                          public std::enable_shared_from_this<ContextCall> {
 public:
  ContextCall(ActorCore* runtime, PeerSignaller* signaller);
  ~ContextCall() override;

  // Asks `service` for the next Actor/Context call; `tag` completes on
  // `new_calls` when one arrives (ok) or the server shuts down (not ok).
  template <typename Service>
  void Request(Service* service, grpc::ServerCompletionQueue* new_calls,
               void* tag) {
    server_context_.AsyncNotifyWhenDone(&done_op_);
    service->RequestContext(&server_context_, &stream_, queue_->cq(), new_calls,
                            tag);
  }

  // The whole call, on its serving task: the first frame, the function,
  // then the wait until gRPC is done with the call. REQUIRES: the call
  // arrived.
  void Serve();

  // Ends an arrived call that may not be served with `status`, before
  // anything is read, on the calling thread; returns once gRPC is done
  // with it (a status goes out at once).
  void Reject(const grpc::Status& status);

  // The call's context, once it arrived: its metadata and peer.
  const grpc::ServerContext& server_context() const { return server_context_; }

  // ContextTransport
  void StartWrite(absl::string_view frame, bool last) override;
  void ResumeReading() override { FramePump::ResumeReading(); }
  void Finish(const absl::Status& status) override;
  void Signal(const v1::SignalRequest& request) override;

 private:
  // How far the call is from its end, for gRPC.
  enum class Ending {
    kNo,         // serving
    kFinishing,  // Finish (the status) was started
    kFinished,   // its completion came
  };

  // FramePump
  ContextCore* OnFrameRead(absl::string_view bytes,
                           absl::string_view problem) override;
  void OnReadClosed() override;
  void OnWriteCompleted(bool ok) override;
  bool ReadsWantedLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void OnFinished(bool ok);
  void OnDone(bool ok);
  // Handles the first frame (`problem` says why its bytes are unusable):
  // sets context_, function_ and args_, or refuses the call.
  void Accept(absl::string_view bytes, absl::string_view problem);
  // Answers a Start that cannot run with a lone Error, then finishes.
  void Refuse(const absl::Status& error);
  // Why the context's transport is gone once the call is done.
  absl::Status EndOfCall();
  // gRPC is done with the call: no operation is outstanding any more.
  bool OverLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ActorCore* const runtime_;
  PeerSignaller* const signaller_;
  grpc::ServerContext server_context_;
  ServerFrameStream stream_{&server_context_};
  // The opener's addresses on the host the call came from: where Signals
  // about the context go (server/peer_addresses.h).
  std::vector<std::string> signal_route_;
  MemberEvent<ContextCall> finish_op_{this, &ContextCall::OnFinished};
  MemberEvent<ContextCall> done_op_{this, &ContextCall::OnDone};

  // The accepted context and what runs it, set by the first frame (on the
  // serving task, before it reads them) and read-only afterwards.
  std::shared_ptr<ContextCore> context_;
  std::optional<RegisteredFunction> function_;
  Value args_;

  // The staged frame is the last, which Finish sends with the status.
  bool holding_last_ ABSL_GUARDED_BY(write_mu_) = false;
  bool first_frame_done_ ABSL_GUARDED_BY(mu_) = false;
  Ending ending_ ABSL_GUARDED_BY(mu_) = Ending::kNo;
  // The call ended for gRPC (AsyncNotifyWhenDone). No operation starts
  // after it: once Serve() returns, the server may be gone.
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  // A lone Error is being written: Finish with this once it is.
  std::optional<absl::Status> refusal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_CONTEXT_CALL_H_
