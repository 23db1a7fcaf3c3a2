// Context: what its transport delivers (frames, out-of-band signals, the
// stream's end), handled per side, and the errors they bring.

#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/context/context_core.h"
#include "runtime/context/internal/yield_wire.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"

namespace tether {
namespace {

const char* FrameName(v1::Frame::KindCase kind) {
  switch (kind) {
    case v1::Frame::kStart:
      return "Start";
    case v1::Frame::kStartAck:
      return "StartAck";
    case v1::Frame::kStarted:
      return "Started";
    case v1::Frame::kYieldBatch:
      return "Yield";
    case v1::Frame::kStop:
      return "Stop";
    case v1::Frame::kReturned:
      return "Return";
    case v1::Frame::kError:
      return "Error";
    case v1::Frame::kCancel:
      return "Cancel";
    case v1::Frame::KIND_NOT_SET:
      break;
  }
  return "an empty frame";
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
  if (side_ == Side::kOpener) {
    OnOpenerFrame(frame);
  } else {
    OnCalleeFrame(frame);
  }
}

void ContextCore::OnPeerHalfClose() {
  {
    absl::MutexLock lock(&mu_);
    if (remote_stopped_) return;
    remote_stopped_ = true;
  }
  inbox_.SetEnd(inbox_.arrived());
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
  if (side_ == Side::kOpener) {
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

void ContextCore::OnOpenerFrame(v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kStartAck: {
      absl::MutexLock lock(&mu_);
      if (!acked_) {
        acked_ = true;
        if (frame.start_ack().has_callee()) peer_ = frame.start_ack().callee();
        SetPeerMaxFrameBytes(frame.start_ack().max_frame_bytes());
        // No NotifyAll: no task waits for StartAck alone, and the opener
        // waiting for Started would wake only to wait again.
        return;
      }
      break;
    }
    case v1::Frame::kStarted: {
      absl::StatusOr<Value> value = Value::FromProto(frame.started().value());
      if (!value.ok()) {
        return Violation(
            absl::StrCat("bad Started value: ", value.status().message()));
      }
      absl::MutexLock lock(&mu_);
      if (acked_ && !started_ && kind_ != v1::FUNCTION_KIND_PLAIN) {
        started_ = true;
        started_value_ = *std::move(value);
        waiters_.NotifyAll();
        return;
      }
      break;
    }
    case v1::Frame::kStop: {
      bool ok;
      {
        absl::MutexLock lock(&mu_);
        ok = started_ && !remote_stopped_;
        remote_stopped_ = true;
      }
      if (!ok) break;
      inbox_.SetEnd(frame.stop().data_count());
      return;
    }
    case v1::Frame::kReturned: {
      NoteFinalFrame();
      absl::StatusOr<Value> value = Value::FromProto(frame.returned().value());
      if (!value.ok()) {
        return Violation(
            absl::StrCat("bad Return value: ", value.status().message()));
      }
      bool ok;
      {
        absl::MutexLock lock(&mu_);
        ok = acked_ && !outcome_.has_value() &&
             (started_ || kind_ == v1::FUNCTION_KIND_PLAIN);
        if (ok) {
          outcome_ = *std::move(value);
          UpdateSendGateLocked();
          waiters_.NotifyAll();
        }
      }
      if (!ok) break;
      inbox_.SetEnd(frame.returned().data_count());
      return;
    }
    case v1::Frame::kError:
      NoteFinalFrame();
      return ApplyRemoteError(MakeError(frame.error().error()));
    default:
      break;
  }
  Violation(absl::StrCat("the callee sent ", FrameName(frame.kind_case()),
                         " out of order"));
}

void ContextCore::OnCalleeFrame(v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kStop: {
      // Allowed at any time after Start: a plain call's opener stops at
      // once, a pipelining opener may stop before Started.
      bool ok;
      {
        absl::MutexLock lock(&mu_);
        ok = !remote_stopped_;
        remote_stopped_ = true;
      }
      if (!ok) return Violation("the opener sent Stop twice");
      inbox_.SetEnd(frame.stop().data_count());
      return;
    }
    case v1::Frame::kCancel:
      ClearPendingSignal();
      return ApplyCancelRequest(frame.cancel().requester().uuid().empty()
                                    ? peer()
                                    : frame.cancel().requester());
    case v1::Frame::kError:
      ClearPendingSignal();
      return ApplyOpenerError(MakeError(frame.error().error()));
    default:
      break;
  }
  Violation(absl::StrCat("the opener sent ", FrameName(frame.kind_case()),
                         " out of order"));
}

void ContextCore::OnYield(absl::string_view yield) {
  bool accepted;
  if (side_ == Side::kOpener) {
    absl::MutexLock lock(&mu_);
    accepted = started_;
  } else {
    // An opener may pipeline data behind its Start (docs/protocol.md §2):
    // it waits in the inbox, under the usual overrun rules, until the
    // function opens its stream. A plain function has no stream.
    accepted = kind_ != v1::FUNCTION_KIND_PLAIN;
  }
  if (accepted) return OnData(yield);
  Violation(absl::StrCat(side_ == Side::kOpener ? "the callee" : "the opener",
                         " sent ", FrameName(v1::Frame::kYieldBatch),
                         " out of order"));
}

void ContextCore::OnData(absl::string_view yield) {
  const absl::StatusOr<size_t> count = YieldBatch::Count(yield);
  if (!count.ok()) {
    return Violation(
        absl::StrCat("bad Yield frame: ", count.status().message()));
  }
  // A backlog being drained after an error or at exit is only counted.
  if (inbox_.DropIfUnwanted(*count)) return;
  const size_t overrun = inbox_.Push(YieldBatch(std::string(yield), *count));
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
  absl::MutexLock lock(&mu_);
  final_frame_arrived_ = true;
  pending_signal_.reset();
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
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return;
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
