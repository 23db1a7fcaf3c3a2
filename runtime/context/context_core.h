// File: runtime/context/context_core.h
//
// ContextCore: a context's runtime half. Users hold it as the Context of
// tether/context.h (the user's API, which forwards here); the runtime
// holds it as a ContextCore: the transport (runtime/context/
// context_transport.h) hands it every frame and write completion, the
// serving runtime and Portal bind the scope that runs user code to it, and
// Actor/Info and Actor/Signal find it through ActorCore.
//
// Each side's protocol state (docs/protocol.md section 2) is one
// ContextState (runtime/context/context_state.h); the stream's two
// directions are an Outbox and an Inbox (internal/).
//
//   auto context = std::make_shared<ContextCore>(
//       Context::Side::kOpener, self, callee, "counter", NewUuid(),
//       v1::FUNCTION_KIND_CONTEXT, ContextOptions{});
//   context->Attach(transport);          // the gRPC stream
//   context->SendControl(start_frame);
//   ... transport thread: context->OnFrame(bytes) ...
//   absl::Status outcome = context->ExitBlock(block(*context, started));
//
// Thread-safe: transport threads, the task that uses the context and
// timer callbacks call it concurrently.

#ifndef TETHER_RUNTIME_CONTEXT_CONTEXT_CORE_H_
#define TETHER_RUNTIME_CONTEXT_CONTEXT_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/context/context_state.h"
#include "runtime/context/context_transport.h"
#include "runtime/context/internal/inbox.h"
#include "runtime/context/internal/outbox.h"
#include "runtime/task/wait.h"
#include "tether/context.h"
#include "tether/msg_stream.h"
#include "tether/task.h"
#include "tether/v1/actor.pb.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether {

class ContextCore final : public Context,
                          public std::enable_shared_from_this<ContextCore>,
                          private context_internal::FrameWriter {
 public:
  // `self` is the local actor; `peer` the one at the other end (the
  // callee's addresses are filled in by StartAck on the opener side).
  ContextCore(Side side, v1::ActorRef self, v1::ActorRef peer,
              std::string function, std::string context_id,
              v1::FunctionKind kind, const ContextOptions& options);
  ~ContextCore();

  // The core of `context`, which every Context is.
  static ContextCore& Of(Context& context) {
    return static_cast<ContextCore&>(context);
  }
  static const ContextCore& Of(const Context& context) {
    return static_cast<const ContextCore&>(context);
  }

  // --- Context's API, which forwards here: tether/context.h has the
  // contracts ---

  absl::Status Started(Value value = Value());
  absl::StatusOr<MsgStream> OpenStream(StreamOptions options = {});
  absl::StatusOr<Value> Result(absl::Time deadline = absl::InfiniteFuture());
  void Cancel();

  Side side() const { return side_; }
  const std::string& function() const { return function_; }
  const std::string& id() const { return id_; }
  v1::ActorId self() const;
  v1::ActorId peer() const;
  v1::ActorRef peer_ref() const;
  bool cancel_called() const;
  bool cancel_acked() const;
  std::optional<v1::ActorId> canceller() const;
  std::optional<absl::StatusOr<Value>> outcome() const;

  // --- The runtime's API (transports, Portal, the serving runtime) ---

  // Connects the stream; frames may flow after this.
  // The context keeps only a weak reference: a transport that went away
  // (its call ended) is simply no longer used.
  void Attach(std::weak_ptr<ContextTransport> transport);
  // The transport's events come through `poller`: tasks waiting on this
  // context poll it (tether/task.h). Before any task waits.
  void SetPoller(const std::shared_ptr<TaskPoller>& poller);
  // The largest serialized frame the peer accepts (max_frame_bytes of its
  // Start or StartAck); 0, the initial value, states no limit. A payload,
  // Started value or result that could not fit is refused before sending.
  void SetPeerMaxFrameBytes(uint32_t bytes) { outbox_.SetMaxFrameBytes(bytes); }
  // This side's secret for the context (128 random bits, as hex), which it
  // hands the peer in its Start or StartAck: a Signal about the context
  // must carry it (OnSignal). Never logged, never in Info.
  const std::string& signal_key() const { return signal_key_; }
  // The peer's secret, from its Start or StartAck: this side's Signals to
  // the peer carry it. Empty (the default): the peer takes no Signals.
  void SetPeerSignalKey(std::string key);
  // Sends a frame that is neither data nor the final frame (Start,
  // StartAck).
  void SendControl(v1::Frame&& frame);
  // Binds the scope that runs this side's user code (the opener's block or
  // the callee's task); errors and cancel requests cancel it. A cancel that
  // arrived earlier is applied at once.
  void BindScope(CancelHandle scope);
  // Transport thread: one serialized frame arrived (a frame that does not
  // parse is a protocol violation). Never blocks.
  void OnFrame(absl::string_view frame);
  // Transport thread: the write handed to ContextTransport::StartWrite
  // finished; `ok` false means the stream broke.
  void OnWriteDone(bool ok);
  // Transport thread: the peer half-closed its side without Stop, which
  // counts as Stop after everything that arrived.
  void OnPeerHalfClose();
  // Transport thread: a frame that could not be parsed, or was too large.
  void OnBadFrame(absl::string_view problem);
  // Transport thread: the stream ended. `status` is the final gRPC status
  // (opener) or why the opener went away (callee).
  void OnTransportDone(const absl::Status& status);
  // Whether the transport should read the next frame now; if not, the
  // context calls ContextTransport::ResumeReading() later.
  bool ShouldRead();
  // Takes an out-of-band Signal: applied at once when this side has stopped
  // reading its stream, otherwise kept until it does (or the in-band copy
  // arrives). False if it does not concern this context (wrong sender,
  // wrong side, or not this side's signal_key()).
  bool OnSignal(const v1::SignalRequest& request);

  // Opener: waits for Started (its value) or an early final error.
  absl::StatusOr<Value> WaitStarted();
  // Opener: applies the block-exit rules to the block's status.
  absl::Status ExitBlock(absl::Status block_status);
  // Opener: the callee's final frame (Return or Error) arrived in band, so
  // its end of the call follows at once. False while only an out-of-band
  // copy arrived: the in-band one still waits behind unread data.
  bool final_frame_arrived() const;
  // Callee: the function returned; sends the final frame.
  void FinishCallee(absl::StatusOr<Value>&& result);
  // Callee: cancels the task on behalf of an actor-wide cancel request.
  void CancelByRequest(const v1::ActorId& requester);

  // Observability for Actor/Info.
  v1::ContextInfo Describe() const;
  // Frames written to and read from this context's stream so far; a
  // callee's count includes the Start it was made from.
  uint64_t frames_sent() const { return frames_sent_.load(); }
  uint64_t frames_received() const { return frames_received_.load(); }

 private:
  friend class MsgStream;

  // Stream operations, through MsgStream.
  absl::Status StreamSend(const Value& value, absl::Time deadline);
  // How the stream's last iteration ended (MsgStream::status()).
  absl::Status IterationStatus() const;
  void SetIterationStatus(absl::Status status);
  absl::StatusOr<Value> StreamReceive(absl::Time deadline);
  absl::StatusOr<std::optional<Value>> StreamTryReceive();
  absl::Status StreamClose();
  bool StreamClosed() const;

  // FrameWriter, for the outbox: forwards to the attached transport.
  void StartWrite(absl::string_view frame, bool last) override;
  // Both call back only if the context still exists then.
  void ReleaseBeforeBlocking() override;
  void ReleaseAfter(absl::Duration linger) override;
  void AwaitingWriteDone() override;
  // Handles the outbox's write completion from the timer thread after
  // kWriteDoneCheck, again until no data waits for one.
  void HandleWriteDoneSoon(std::shared_ptr<TaskPoller> poller);
  // The attached transport while it exists, else null.
  std::shared_ptr<ContextTransport> transport() const;

  // Asks the state machine about a frame the peer sent (`count` as for
  // ContextState::Received); a violation is handled here, and the return
  // value says whether to act on the frame.
  bool Admit(FrameKind kind, uint64_t count) ABSL_LOCKS_EXCLUDED(mu_);
  // Acts on an admitted frame: the opener on the callee's, the callee on
  // the opener's.
  void ApplyCalleeFrame(v1::Frame& frame, std::optional<Value> value)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyOpenerFrame(v1::Frame& frame) ABSL_LOCKS_EXCLUDED(mu_);
  // A Yield frame, given as the serialized Yield inside it.
  void OnYield(absl::string_view yield) ABSL_LOCKS_EXCLUDED(mu_);
  // Hands an admitted batch of `count` payloads to the inbox.
  void OnData(absl::string_view yield, size_t count);
  // The peer broke the protocol: report it and end the context.
  void Violation(absl::string_view problem);
  // Opener: records the callee's final error and applies it (absorbed or
  // cancelling the block).
  void ApplyRemoteError(absl::Status error);
  // Callee: the opener reported an error (overrun, violation); the task
  // fails with it.
  void ApplyOpenerError(absl::Status error);
  // Opener: sends Cancel, with `reason` when it is the block's own error.
  void CancelWithReason(const absl::Status& reason);
  // Callee: fails the context now with `error` as the final frame (overrun,
  // protocol violation) and cancels the task.
  void FailCallee(absl::Status error);
  // Callee: a cancel request from `requester`.
  void ApplyCancelRequest(const v1::ActorId& requester);
  void ApplySignal(const v1::SignalRequest& request);
  void ClearPendingSignal();
  // Opener: the callee's Return or Error arrived in band; an out-of-band
  // copy still held back is superseded.
  void NoteFinalFrame();
  // Sends an urgent frame in band and, when streams may stall, out of band.
  void SendUrgent(v1::Frame frame);
  void CancelScopeWith(absl::Status reason) ABSL_LOCKS_EXCLUDED(mu_);
  bool AbsorbsLocked(const absl::Status& status) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits, not interruptible by cancellation, up to `timeout` for the
  // outcome.
  void AwaitOutcomeShielded(absl::Duration timeout);
  // `error` boxed for the peer: this actor appended to its relay path, and
  // source, function and context id filled in where unset.
  v1::ErrorInfo BoxForPeer(const absl::Status& error) const;
  // "name[uuid8]" of the peer, or its address before StartAck named it.
  std::string DescribePeer() const;
  // Callee misuse (Started twice, ...): a boxed std::logic_error that also
  // becomes the callee's final error.
  absl::Status MisuseLocked(absl::string_view problem)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recomputes sends_refused_; call after changing what it mirrors.
  void UpdateSendGateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Side side_;
  const v1::ActorRef self_;
  const std::string function_;
  const std::string id_;
  const std::string signal_key_;
  const v1::FunctionKind kind_;
  const ContextOptions options_;

  // A leaf lock (taken last, held briefly): the outbox writes through the
  // transport while callers may hold mu_.
  mutable absl::Mutex transport_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::weak_ptr<ContextTransport> transport_ ABSL_GUARDED_BY(transport_mu_);
  context_internal::Outbox outbox_;
  context_internal::Inbox inbox_;
  std::atomic<uint64_t> frames_sent_{0};
  std::atomic<uint64_t> frames_received_{0};

  mutable absl::Mutex mu_;
  v1::ActorRef peer_ ABSL_GUARDED_BY(mu_);
  std::string peer_signal_key_ ABSL_GUARDED_BY(mu_);
  // Which frames each side has sent; what the peer may send next.
  ContextState state_ ABSL_GUARDED_BY(mu_);
  // Opener: the callee's Started value, once it arrived.
  std::optional<Value> started_value_ ABSL_GUARDED_BY(mu_);
  bool stream_opened_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::StatusOr<Value>> outcome_ ABSL_GUARDED_BY(mu_);
  // The peer's error (opener: its final Error; callee: the opener's report).
  absl::Status remote_error_ ABSL_GUARDED_BY(mu_);
  // A signal received while this side still reads its stream.
  std::optional<v1::SignalRequest> pending_signal_ ABSL_GUARDED_BY(mu_);
  // Opener: this side's buffer overflowed and the callee was told.
  bool overrun_reported_ ABSL_GUARDED_BY(mu_) = false;
  bool cancel_called_ ABSL_GUARDED_BY(mu_) = false;
  bool cancel_acked_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<v1::ActorId> canceller_ ABSL_GUARDED_BY(mu_);
  // Callee: misuse of the API, reported as the final error.
  absl::Status misuse_ ABSL_GUARDED_BY(mu_);
  // The scope running this side's user code, while it is bound.
  std::optional<CancelHandle> scope_ ABSL_GUARDED_BY(mu_);
  // Cancel reason that arrived before BindScope.
  absl::Status pending_cancel_ ABSL_GUARDED_BY(mu_);
  bool transport_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status iteration_status_ ABSL_GUARDED_BY(mu_);
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  // The transport's poller, if its completions must be polled.
  std::shared_ptr<TaskPoller> poller_ ABSL_GUARDED_BY(mu_);
  // Stop sent, an error outcome or remote_error_: a send fails. Mirrored
  // here so that a send on an open stream takes no lock of the context's
  // own (written under mu_).
  std::atomic<bool> sends_refused_{false};
};

}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_CONTEXT_CORE_H_
