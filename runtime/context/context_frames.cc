// ContextCore: what its transport delivers (frames, out-of-band signals,
// the stream's end), admitted by the state machine (context_state.h),
// handled per side, and the errors they bring.

#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/base/secrets.h"
#include "runtime/context/context_core.h"
#include "runtime/context/internal/yield_wire.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"

namespace tether {
namespace {

using context_internal::LoneYieldOf;
using context_internal::YieldBatch;

// The data_count a Stop, Return or Error announces; 0 for other frames.
uint64_t DataCountOf(const v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kStop:
      return frame.stop().data_count();
    case v1::Frame::kReturned:
      return frame.returned().data_count();
    case v1::Frame::kError:
      return frame.error().data_count();
    default:
      return 0;
  }
}

}  // namespace

void ContextCore::OnFrame(absl::string_view bytes) {
  // Receivers wake once the frame is handled and every lock is free.
  const DeferredWakeups wakeups;
  frames_received_.fetch_add(1, std::memory_order_relaxed);
  // Data frames, the common case, are decoded payload by payload without
  // parsing them into a v1::Frame first.
  if (std::optional<absl::string_view> yield = LoneYieldOf(bytes)) {
    return OnYield(*yield);
  }
  v1::Frame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Violation(
        "a frame could not be parsed as tether.v1.Frame (malformed, or "
        "nested deeper than protobuf reads)");
  }
  if (frame.has_yield_batch()) {
    return OnYield(frame.yield_batch().SerializeAsString());
  }
  const std::optional<FrameKind> kind = FrameKindOf(frame);
  if (!kind.has_value()) return Violation("a frame with no kind set");
  if (side_ == Side::kCallee) {
    if (Admit(*kind, DataCountOf(frame))) ApplyOpenerFrame(frame);
    return;
  }
  // A value the callee sent must decode before its frame counts as sent.
  std::optional<Value> value;
  if (frame.has_started() || frame.has_returned()) {
    absl::StatusOr<Value> decoded =
        Value::FromProto(frame.has_started() ? frame.started().value()
                                             : frame.returned().value());
    if (!decoded.ok()) {
      return Violation(absl::StrCat("bad ", FrameKindName(*kind),
                                    " value: ", decoded.status().message()));
    }
    value = *std::move(decoded);
  }
  if (Admit(*kind, DataCountOf(frame))) {
    ApplyCalleeFrame(frame, std::move(value));
  }
}

bool ContextCore::Admit(FrameKind kind, uint64_t count) {
  ContextState::Verdict verdict;
  std::string problem;
  {
    absl::MutexLock lock(&mu_);
    verdict = state_.Received(kind, count);
    if (verdict == ContextState::Verdict::kViolation) {
      problem = state_.problem();
    }
  }
  if (verdict == ContextState::Verdict::kViolation) Violation(problem);
  return verdict == ContextState::Verdict::kAccept;
}

void ContextCore::OnPeerHalfClose() {
  uint64_t end;
  {
    absl::MutexLock lock(&mu_);
    if (state_.ReceivedHalfClose() != ContextState::Verdict::kAccept) return;
    end = *state_.peer_data_count();
  }
  inbox_.SetEnd(end);
}

void ContextCore::OnBadFrame(absl::string_view problem) {
  frames_received_.fetch_add(1, std::memory_order_relaxed);
  Violation(problem);
}

void ContextCore::OnTransportDone(const absl::Status& status) {
  outbox_.Close(absl::UnavailableError("the context's stream has ended"));
  // A signal held while the stream was still being read will not be
  // superseded by its in-band copy any more: it says how the context ended.
  std::optional<v1::SignalRequest> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(pending_signal_);
  }
  if (pending.has_value()) ApplySignal(*pending);
  bool known;
  {
    absl::MutexLock lock(&mu_);
    transport_done_ = true;
    known = outcome_.has_value();
    waiters_.NotifyAll();
  }
  if (known) return;
  if (side_ == Side::kOpener && absl::IsUnauthenticated(status)) {
    // Refused for want of the tree's token: no transport trouble, and
    // opening again will not help.
    ApplyRemoteError(absl::UnauthenticatedError(absl::StrCat(
        DescribePeer(), " refused the context: ", status.message())));
  } else if (side_ == Side::kOpener) {
    absl::Status error = GetErrorInfo(status).has_value()
                             ? status
                             : TransportClosedError(absl::StrCat(
                                   "the stream to ", DescribePeer(),
                                   " ended before the context "
                                   "did (",
                                   absl::StatusCodeToString(status.code()),
                                   ": ", status.message(), ")"));
    ApplyRemoteError(std::move(error));
  } else {
    const absl::Status error = TransportClosedError(
        absl::StrCat("the opener ", DescribePeer(), " went away"));
    inbox_.Fail(error);
    CancelScopeWith(error);
  }
}

bool ContextCore::ShouldRead() {
  if (inbox_.ShouldRead()) return true;
  std::optional<v1::SignalRequest> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(pending_signal_);
  }
  if (!pending.has_value()) return false;
  // Applying an error makes the inbox want reads again (to find the rest of
  // the stream's control frames); ask once more.
  ApplySignal(*pending);
  return inbox_.ShouldRead();
}

bool ContextCore::OnSignal(const v1::SignalRequest& request) {
  if (!SecretsEqual(request.signal_key(), signal_key_)) return false;
  if (!SameActor(request.sender(), peer())) return false;
  const bool for_this_side =
      request.has_error() || (request.has_cancel() && side_ == Side::kCallee);
  if (!for_this_side) return false;
  // While this side reads its stream the in-band copy arrives soon, in
  // order behind the data sent before it; applying the signal first would
  // drop that data. So a signal waits until reading stops (ShouldRead) or
  // is superseded by its in-band copy, unless that data is being discarded
  // anyway (the block has exited): then waiting for it only delays the
  // outcome.
  if (!inbox_.reading_paused() && !inbox_.discarding()) {
    absl::MutexLock lock(&mu_);
    pending_signal_ = request;
    return true;
  }
  ApplySignal(request);
  return true;
}

void ContextCore::ApplySignal(const v1::SignalRequest& request) {
  if (request.has_cancel()) {
    ApplyCancelRequest(request.cancel().requester().uuid().empty()
                           ? request.sender()
                           : request.cancel().requester());
  } else if (side_ == Side::kOpener) {
    ApplyRemoteError(MakeError(request.error().error()));
  } else {
    ApplyOpenerError(MakeError(request.error().error()));
  }
}

void ContextCore::ApplyCalleeFrame(v1::Frame& frame,
                                   std::optional<Value> value) {
  switch (frame.kind_case()) {
    case v1::Frame::kStartAck: {
      absl::MutexLock lock(&mu_);
      if (frame.start_ack().has_callee()) peer_ = frame.start_ack().callee();
      peer_signal_key_ = frame.start_ack().signal_key();
      SetPeerMaxFrameBytes(frame.start_ack().max_frame_bytes());
      // No NotifyAll: no task waits for StartAck alone, and the opener
      // waiting for Started would wake only to wait again.
      return;
    }
    case v1::Frame::kStarted: {
      absl::MutexLock lock(&mu_);
      started_value_ = *std::move(value);
      waiters_.NotifyAll();
      return;
    }
    case v1::Frame::kStop:
      return inbox_.SetEnd(frame.stop().data_count());
    case v1::Frame::kReturned:
      NoteFinalFrame();
      {
        absl::MutexLock lock(&mu_);
        if (!outcome_.has_value()) {
          outcome_ = *std::move(value);
          UpdateSendGateLocked();
          waiters_.NotifyAll();
        }
      }
      return inbox_.SetEnd(frame.returned().data_count());
    case v1::Frame::kError:
      NoteFinalFrame();
      return ApplyRemoteError(MakeError(frame.error().error()));
    default:
      // The state machine admits nothing else from the callee.
      return;
  }
}

void ContextCore::ApplyOpenerFrame(v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kStop:
      // A pipelining opener may stop before Started, a plain call's opener
      // at once.
      return inbox_.SetEnd(frame.stop().data_count());
    case v1::Frame::kCancel:
      ClearPendingSignal();
      return ApplyCancelRequest(frame.cancel().requester().uuid().empty()
                                    ? peer()
                                    : frame.cancel().requester());
    case v1::Frame::kError:
      ClearPendingSignal();
      return ApplyOpenerError(MakeError(frame.error().error()));
    default:
      // The state machine admits nothing else from the opener.
      return;
  }
}

void ContextCore::OnYield(absl::string_view yield) {
  const absl::StatusOr<size_t> count = YieldBatch::Count(yield);
  if (!count.ok()) {
    return Violation(
        absl::StrCat("bad Yield frame: ", count.status().message()));
  }
  // An opener may pipeline data behind its Start (docs/protocol.md §2):
  // it waits in the inbox, under the usual overrun rules, until the
  // function opens its stream.
  if (Admit(FrameKind::kYield, *count)) OnData(yield, *count);
}

void ContextCore::OnData(absl::string_view yield, size_t count) {
  // A backlog being drained after an error or at exit is only counted.
  if (inbox_.DropIfUnwanted(count)) return;
  const size_t overrun = inbox_.Push(YieldBatch(std::string(yield), count));
  if (overrun == 0) return;
  const absl::Status error =
      StreamOverrunError(peer(), self_.id(),
                         options_.buffer_size == 0 ? 64 : options_.buffer_size);
  if (side_ == Side::kCallee) return FailCallee(error);
  {
    absl::MutexLock lock(&mu_);
    if (overrun_reported_ || outcome_.has_value()) return;
    overrun_reported_ = true;
  }
  TETHER_LOG(kWarning) << "context " << id_ << " (" << function_
                       << "): the callee overran this side's buffer";
  // Nothing more will be delivered; the callee fails with the overrun and
  // its final Error reports it back here.
  inbox_.Discard();
  v1::Frame frame;
  *frame.mutable_error()->mutable_error() = *GetErrorInfo(error);
  SendUrgent(std::move(frame));
}

void ContextCore::NoteFinalFrame() {
  // The in-band copy of an out-of-band signal arrived, or made it moot.
  ClearPendingSignal();
}

void ContextCore::ClearPendingSignal() {
  absl::MutexLock lock(&mu_);
  pending_signal_.reset();
}

void ContextCore::Violation(absl::string_view problem) {
  const absl::Status error = ProtocolError(self_.id(), problem);
  TETHER_LOG(kWarning) << "context " << id_ << " (" << function_
                       << "): protocol violation: " << problem;
  if (side_ == Side::kCallee) return FailCallee(error);
  {
    // An error that ended the context stands; a callee that broke the
    // protocol after its Return (data past its data_count) did not return.
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value() && !outcome_->ok()) return;
    outcome_ = error;
    UpdateSendGateLocked();
    waiters_.NotifyAll();
  }
  v1::Frame frame;
  *frame.mutable_error()->mutable_error() = *GetErrorInfo(error);
  SendUrgent(std::move(frame));
  inbox_.Fail(error);
  CancelScopeWith(error);
}

void ContextCore::ApplyRemoteError(absl::Status error) {
  bool absorbed;
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return;
    remote_error_ = error;
    outcome_ = error;
    UpdateSendGateLocked();
    if (IsContextCancelled(error)) {
      const std::optional<v1::ErrorInfo> info = GetErrorInfo(error);
      if (info.has_value() && info->has_canceller()) {
        canceller_ = info->canceller();
        cancel_acked_ = cancel_called_ && SameActor(*canceller_, self_.id());
      }
    }
    absorbed = AbsorbsLocked(error);
    waiters_.NotifyAll();
  }
  const size_t dropped = inbox_.Fail(error);
  if (dropped > 0) {
    TETHER_LOG(kInfo) << "context " << id_ << " (" << function_ << "): dropped "
                      << dropped
                      << " queued payloads behind the callee's error";
  }
  if (!absorbed) CancelScopeWith(error);
}

void ContextCore::ApplyOpenerError(absl::Status error) {
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value() || !remote_error_.ok()) return;
    remote_error_ = error;
    UpdateSendGateLocked();
  }
  inbox_.Fail(error);
  CancelScopeWith(error);
}

void ContextCore::FailCallee(absl::Status error) {
  v1::Frame frame;
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return;
    *frame.mutable_error()->mutable_error() = BoxForPeer(error);
    state_.Sent(FrameKind::kError);
    outcome_ = error;
    UpdateSendGateLocked();
    waiters_.NotifyAll();
  }
  SendUrgent(std::move(frame));
  inbox_.Fail(error);
  CancelScopeWith(error);
  outbox_.WhenDrained([this, error] {
    if (std::shared_ptr<ContextTransport> t = transport()) t->Finish(error);
  });
}

void ContextCore::ApplyCancelRequest(const v1::ActorId& requester) {
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value() || canceller_.has_value()) return;
    canceller_ = requester;
  }
  CancelScopeWith(
      ContextCancelledError(requester, self_.id(),
                            absl::StrCat("cancelled by ", requester.name(), "[",
                                         requester.uuid().substr(0, 8), "]")));
}

}  // namespace tether
