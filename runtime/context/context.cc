#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/base/secrets.h"
#include "runtime/context/context_core.h"
#include "runtime/task/delayed_call.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"
#include "tether/status_macros.h"

namespace tether {
namespace {

using context_internal::Inbox;
using context_internal::Outbox;

// Bytes of randomness in a context's signal key: 128 bits.
constexpr size_t kSignalKeyBytes = 16;
// How long a failing block waits for the callee to confirm its
// cancellation before the stream itself is cancelled.
constexpr absl::Duration kCancelAckTimeout = absl::Milliseconds(500);
// How soon the timer thread handles a write's completion for a sender that
// did not block since (AwaitingWriteDone).
constexpr absl::Duration kWriteDoneCheck = absl::Microseconds(200);

// How long payloads of a burst may wait to fill a batch when the sending
// task neither blocks nor fills one (runtime/context/internal/outbox.h). Also
// how often a long burst is cut: each cut costs the timer thread two wake-ups.
constexpr absl::Duration kLinger = absl::Microseconds(500);

Inbox::Options ReceiveOptions(Context::Side side,
                              const ContextOptions& options) {
  Inbox::Options receive;
  receive.buffer_size = options.buffer_size == 0 ? 64 : options.buffer_size;
  const bool allow = side == Context::Side::kOpener
                         ? options.allow_overruns
                         : options.callee_allow_overruns;
  receive.mode = options.backpressure ? Inbox::Mode::kBackpressure
                 : allow              ? Inbox::Mode::kAllowOverruns
                                      : Inbox::Mode::kOverrun;
  return receive;
}

Outbox::Options SendOptions(Context::Side side, const ContextOptions& options) {
  Outbox::Options send;
  // A receiver that takes bursts (overflow queue or backpressure) gets a
  // burst in full batches: fewer writes, reads and wake-ups per payload. One
  // that overruns past its buffer gets every payload as soon as possible.
  const bool peer_takes_bursts =
      options.backpressure ||
      (side == Context::Side::kOpener ? options.callee_allow_overruns
                                      : options.allow_overruns);
  if (peer_takes_bursts) send.linger = kLinger;
  // Under backpressure a receiver must take a whole batch past its buffer;
  // bounding batches by the buffer bounds what it holds.
  if (options.backpressure && options.buffer_size > 0) {
    send.max_batch_payloads = options.buffer_size;
  }
  return send;
}

}  // namespace

ContextCore::ContextCore(Side side, v1::ActorRef self, v1::ActorRef peer,
                         std::string function, std::string context_id,
                         v1::FunctionKind kind, const ContextOptions& options)
    : side_(side),
      self_(std::move(self)),
      function_(std::move(function)),
      id_(std::move(context_id)),
      signal_key_(RandomHex(kSignalKeyBytes)),
      kind_(kind),
      options_(options),
      outbox_(this, SendOptions(side, options)),
      inbox_(
          ReceiveOptions(side, options),
          [this] {
            if (std::shared_ptr<ContextTransport> t = transport())
              t->ResumeReading();
          },
          [this](const absl::Status& error) {
            Violation(absl::StrCat("bad Yield payload: ", error.message()));
          }),
      // A callee is made from the Start frame its transport read.
      frames_received_(side == Side::kCallee ? 1 : 0),
      peer_(std::move(peer)),
      state_(side, kind) {}

ContextCore::~ContextCore() = default;

void ContextCore::SetPeerSignalKey(std::string key) {
  absl::MutexLock lock(&mu_);
  peer_signal_key_ = std::move(key);
}

// --- Context: the users' view, forwarded to its core ---

absl::Status Context::Started(Value value) {
  return ContextCore::Of(*this).Started(std::move(value));
}

absl::StatusOr<MsgStream> Context::OpenStream(StreamOptions options) {
  return ContextCore::Of(*this).OpenStream(options);
}

absl::StatusOr<Value> Context::Result(absl::Time deadline) {
  return ContextCore::Of(*this).Result(deadline);
}

void Context::Cancel() { ContextCore::Of(*this).Cancel(); }

Context::Side Context::side() const { return ContextCore::Of(*this).side(); }

const std::string& Context::function() const {
  return ContextCore::Of(*this).function();
}

const std::string& Context::id() const { return ContextCore::Of(*this).id(); }

v1::ActorId Context::self() const { return ContextCore::Of(*this).self(); }

v1::ActorId Context::peer() const { return ContextCore::Of(*this).peer(); }

v1::ActorRef Context::peer_ref() const {
  return ContextCore::Of(*this).peer_ref();
}

bool Context::cancel_called() const {
  return ContextCore::Of(*this).cancel_called();
}

bool Context::cancel_acked() const {
  return ContextCore::Of(*this).cancel_acked();
}

std::optional<v1::ActorId> Context::canceller() const {
  return ContextCore::Of(*this).canceller();
}

std::optional<absl::StatusOr<Value>> Context::outcome() const {
  return ContextCore::Of(*this).outcome();
}

// --- The user's API, in the core ---

absl::Status ContextCore::Started(Value value) {
  TETHER_RETURN_IF_ERROR(CheckCancelled());
  TETHER_RETURN_IF_ERROR(value.CheckNesting());
  TETHER_RETURN_IF_ERROR(outbox_.CheckFits(value.ByteSizeLong()));
  {
    absl::MutexLock lock(&mu_);
    if (side_ == Side::kOpener) {
      return absl::FailedPreconditionError(
          "Started() is for the callee; the opener receives the value");
    }
    if (kind_ == v1::FUNCTION_KIND_PLAIN) {
      return MisuseLocked("Started() called in a plain function");
    }
    if (outcome_.has_value() && !outcome_->ok()) return outcome_->status();
    if (!state_.may_send(FrameKind::kStarted)) {
      return MisuseLocked("Started() called twice");
    }
    state_.Sent(FrameKind::kStarted);
  }
  v1::Frame frame;
  *frame.mutable_started()->mutable_value() = value.ToProto();
  outbox_.SendControl(std::move(frame));
  return absl::OkStatus();
}

absl::StatusOr<MsgStream> ContextCore::OpenStream(StreamOptions options) {
  if (side_ == Side::kCallee) TETHER_RETURN_IF_ERROR(CheckCancelled());
  {
    absl::MutexLock lock(&mu_);
    if (kind_ == v1::FUNCTION_KIND_PLAIN) {
      return MisuseLocked("OpenStream() called in a plain function");
    }
    if (side_ == Side::kCallee &&
        state_.phase() < ContextState::Phase::kStreaming) {
      return MisuseLocked("OpenStream() called before Started()");
    }
    if (stream_opened_) {
      return absl::FailedPreconditionError(
          "the context's stream is already open");
    }
    if (side_ == Side::kOpener && cancel_called_) {
      return ContextCancelledError(self_.id(), self_.id(),
                                   "this side cancelled the context");
    }
    if (outcome_.has_value() && !outcome_->ok()) return outcome_->status();
    stream_opened_ = true;
  }
  if (options.allow_overruns) inbox_.AllowOverruns();
  return MsgStream(this);
}

absl::StatusOr<Value> ContextCore::Result(absl::Time deadline) {
  if (side_ != Side::kOpener) {
    return absl::FailedPreconditionError(
        "Result() is for the opener; the callee returns its result");
  }
  // Like tractor's result(): the stream's unread data is not waited for.
  const size_t dropped = inbox_.Discard();
  if (dropped > 0) {
    TETHER_LOG(kInfo) << "context " << id_ << " (" << function_
                      << "): Result() discarded " << dropped
                      << " unread payloads";
  }
  absl::MutexLock lock(&mu_);
  TETHER_RETURN_IF_ERROR(AwaitLocked(
      mu_, waiters_,
      [this]()
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcome_.has_value(); },
      deadline));
  return *outcome_;
}

void ContextCore::Cancel() {
  if (side_ == Side::kCallee) {
    {
      absl::MutexLock lock(&mu_);
      if (outcome_.has_value() || cancel_called_) return;
      cancel_called_ = true;
      canceller_ = self_.id();
    }
    CancelScopeWith(ContextCancelledError(self_.id(), self_.id(),
                                          "the callee cancelled itself"));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value() || cancel_called_) return;
    cancel_called_ = true;
  }
  v1::Frame frame;
  *frame.mutable_cancel()->mutable_requester() = self_.id();
  SendUrgent(std::move(frame));
}

v1::ActorId ContextCore::self() const { return self_.id(); }

v1::ActorId ContextCore::peer() const {
  absl::MutexLock lock(&mu_);
  return peer_.id();
}

v1::ActorRef ContextCore::peer_ref() const {
  absl::MutexLock lock(&mu_);
  return peer_;
}

bool ContextCore::cancel_called() const {
  absl::MutexLock lock(&mu_);
  return cancel_called_;
}

bool ContextCore::cancel_acked() const {
  absl::MutexLock lock(&mu_);
  return cancel_acked_;
}

std::optional<v1::ActorId> ContextCore::canceller() const {
  absl::MutexLock lock(&mu_);
  return canceller_;
}

std::optional<absl::StatusOr<Value>> ContextCore::outcome() const {
  absl::MutexLock lock(&mu_);
  return outcome_;
}

// --- Runtime-internal API ---

void ContextCore::Attach(std::weak_ptr<ContextTransport> transport) {
  absl::MutexLock lock(&transport_mu_);
  transport_ = std::move(transport);
}

void ContextCore::SetPoller(const std::shared_ptr<TaskPoller>& poller) {
  {
    absl::MutexLock lock(&mu_);
    waiters_.SetPoller(poller);
    poller_ = poller;
  }
  inbox_.SetPoller(poller);
  outbox_.SetPoller(poller);
}

void ContextCore::SendControl(v1::Frame&& frame) {
  {
    absl::MutexLock lock(&mu_);
    state_.Sent(*FrameKindOf(frame));
  }
  outbox_.SendControl(std::move(frame));
}

void ContextCore::BindScope(CancelHandle scope) {
  absl::Status pending;
  {
    absl::MutexLock lock(&mu_);
    scope_ = scope;
    pending = pending_cancel_;
  }
  if (!pending.ok()) scope.Cancel(pending);
}

void ContextCore::OnWriteDone(bool ok) {
  // Senders waiting for room wake once the outbox's lock is free.
  const DeferredWakeups wakeups;
  if (ok) frames_sent_.fetch_add(1, std::memory_order_relaxed);
  outbox_.OnWriteDone(ok);
}

absl::StatusOr<Value> ContextCore::WaitStarted() {
  absl::MutexLock lock(&mu_);
  TETHER_RETURN_IF_ERROR(AwaitLocked(
      mu_, waiters_,
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return started_value_.has_value() || outcome_.has_value();
      },
      absl::InfiniteFuture()));
  if (started_value_.has_value()) return *started_value_;
  if (!outcome_->ok()) return outcome_->status();
  return ProtocolError(peer_.id(), "the callee returned without Started");
}

bool ContextCore::final_frame_arrived() const {
  absl::MutexLock lock(&mu_);
  return side_ == Side::kOpener &&
         state_.phase() == ContextState::Phase::kFinishing;
}

absl::Status ContextCore::ExitBlock(absl::Status block_status) {
  const size_t leftover = inbox_.Discard();
  if (leftover > 0) {
    TETHER_LOG(kWarning) << "context " << id_ << " (" << function_
                         << "): discarded " << leftover
                         << " unread payloads at exit";
  }
  // A signal held back for the data in front of it: that data is now
  // discarded unread.
  std::optional<v1::SignalRequest> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(pending_signal_);
  }
  if (pending.has_value()) ApplySignal(*pending);
  {
    absl::MutexLock lock(&mu_);
    scope_.reset();
  }
  if (!block_status.ok()) {
    bool known;
    {
      absl::MutexLock lock(&mu_);
      known = outcome_.has_value();
    }
    if (!known) {
      CancelWithReason(block_status);
      AwaitOutcomeShielded(kCancelAckTimeout);
    }
    absl::MutexLock lock(&mu_);
    return AbsorbsLocked(block_status) ? absl::OkStatus() : block_status;
  }
  absl::Status waited;
  {
    absl::MutexLock lock(&mu_);
    waited = AwaitLocked(
        mu_, waiters_,
        [this]()
            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcome_.has_value(); },
        absl::InfiniteFuture());
  }
  if (!waited.ok()) {
    // The task around the block is being cancelled: take the callee down
    // with it.
    CancelWithReason(waited);
    AwaitOutcomeShielded(kCancelAckTimeout);
    return waited;
  }
  absl::MutexLock lock(&mu_);
  if (outcome_->ok()) return absl::OkStatus();
  return AbsorbsLocked(outcome_->status()) ? absl::OkStatus()
                                           : outcome_->status();
}

void ContextCore::FinishCallee(absl::StatusOr<Value>&& result) {
  // Frames the opener sent before this final frame, and that already
  // arrived, are judged first: a violation among them (data past its own
  // Stop's data_count) must not be overtaken by a Return.
  std::shared_ptr<TaskPoller> poller;
  {
    absl::MutexLock lock(&mu_);
    poller = poller_;
  }
  if (poller != nullptr) PollReady(*poller);
  v1::Frame frame;
  absl::Status final_status;
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return;
    if (!misuse_.ok()) {
      result = misuse_;
    } else if (result.ok() && kind_ == v1::FUNCTION_KIND_CONTEXT &&
               state_.phase() < ContextState::Phase::kStreaming) {
      result = MisuseLocked("the context function returned before Started()");
    } else if (result.ok()) {
      absl::Status sendable = result->CheckNesting();
      if (sendable.ok()) sendable = outbox_.CheckFits(result->ByteSizeLong());
      if (!sendable.ok()) {
        result = absl::InvalidArgumentError(
            absl::StrCat("the result cannot be sent: ", sendable.message()));
      }
    }
    if (result.ok()) {
      *frame.mutable_returned()->mutable_value() = result->ToProto();
    } else {
      const v1::ErrorInfo info = BoxForPeer(result.status());
      *frame.mutable_error()->mutable_error() = info;
      final_status = MakeError(info);
      result = final_status;
    }
    state_.Sent(frame.has_error() ? FrameKind::kError : FrameKind::kReturn);
    outcome_ = std::move(result);
    UpdateSendGateLocked();
    waiters_.NotifyAll();
  }
  if (frame.has_error()) {
    SendUrgent(std::move(frame));
  } else {
    outbox_.SendControl(std::move(frame));
  }
  outbox_.WhenDrained([this, final_status] {
    if (std::shared_ptr<ContextTransport> t = transport())
      t->Finish(final_status);
  });
}

void ContextCore::CancelByRequest(const v1::ActorId& requester) {
  ApplyCancelRequest(requester);
}

v1::ContextInfo ContextCore::Describe() const {
  v1::ContextInfo info;
  info.set_context_id(id_);
  info.set_function(function_);
  info.set_side(side_ == Side::kOpener ? v1::ContextInfo::SIDE_OPENER
                                       : v1::ContextInfo::SIDE_CALLEE);
  info.set_payloads_sent(outbox_.payloads_accepted());
  info.set_payloads_received(inbox_.received());
  info.set_frames_sent(frames_sent());
  info.set_frames_received(frames_received());
  absl::MutexLock lock(&mu_);
  *info.mutable_peer() = peer_.id();
  if (outcome_.has_value()) {
    info.set_state(v1::ContextInfo::STATE_FINISHING);
  } else if (cancel_called_ || canceller_.has_value()) {
    info.set_state(v1::ContextInfo::STATE_CANCELLING);
  } else if (state_.phase() >= ContextState::Phase::kStreaming) {
    info.set_state(v1::ContextInfo::STATE_STARTED);
  } else {
    info.set_state(v1::ContextInfo::STATE_STARTING);
  }
  return info;
}

void ContextCore::CancelWithReason(const absl::Status& reason) {
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return;
    cancel_called_ = true;
  }
  v1::Frame frame;
  *frame.mutable_cancel()->mutable_requester() = self_.id();
  if (!IsContextCancelled(reason)) {
    *frame.mutable_cancel()->mutable_reason() = BoxStatus(reason, self_.id());
  }
  SendUrgent(std::move(frame));
}

void ContextCore::SendUrgent(v1::Frame frame) {
  // In band the frame may wait behind data the peer is not reading: when
  // the context lets a side stop reading, or when our own writes are
  // already held back. Then it also goes out of band.
  const bool may_stall = options_.backpressure || options_.allow_overruns ||
                         options_.callee_allow_overruns || outbox_.busy();
  v1::SignalRequest signal;
  if (may_stall) {
    absl::MutexLock lock(&mu_);
    // A peer that gave no key takes no Signals.
    if (!peer_signal_key_.empty()) {
      signal.set_signal_key(peer_signal_key_);
    }
  }
  if (may_stall && !signal.signal_key().empty()) {
    signal.set_context_id(id_);
    *signal.mutable_sender() = self_.id();
    if (frame.has_cancel()) *signal.mutable_cancel() = frame.cancel();
    if (frame.has_error()) *signal.mutable_error() = frame.error();
  }
  outbox_.SendControl(std::move(frame));
  if (may_stall && signal.kind_case() != v1::SignalRequest::KIND_NOT_SET) {
    if (std::shared_ptr<ContextTransport> t = transport()) t->Signal(signal);
  }
}

void ContextCore::CancelScopeWith(absl::Status reason) {
  CancelHandle scope;
  {
    absl::MutexLock lock(&mu_);
    if (!scope_.has_value()) {
      if (pending_cancel_.ok()) pending_cancel_ = reason;
      return;
    }
    scope = *scope_;
  }
  scope.Cancel(std::move(reason));
}

bool ContextCore::AbsorbsLocked(const absl::Status& status) const {
  if (!cancel_called_ || !IsContextCancelled(status)) return false;
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  return info.has_value() && SameActor(info->canceller(), self_.id());
}

void ContextCore::AwaitOutcomeShielded(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  AwaitLockedShielded(
      mu_, waiters_,
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return outcome_.has_value() || transport_done_;
      },
      absl::Now() + timeout);
}

v1::ErrorInfo ContextCore::BoxForPeer(const absl::Status& error) const {
  v1::ErrorInfo info = BoxStatus(error, self_.id());
  if (!info.has_source()) *info.mutable_source() = self_.id();
  if (info.function().empty()) info.set_function(function_);
  if (info.context_id().empty()) info.set_context_id(id_);
  return info;
}

std::string ContextCore::DescribePeer() const {
  const v1::ActorRef peer = peer_ref();
  if (!peer.id().name().empty()) {
    return absl::StrCat(peer.id().name(), "[", peer.id().uuid().substr(0, 8),
                        "]");
  }
  return peer.addresses().empty() ? std::string("the peer") : peer.addresses(0);
}

absl::Status ContextCore::MisuseLocked(absl::string_view problem) {
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_APPLICATION);
  info.set_type("std::logic_error");
  info.set_message(std::string(problem));
  *info.mutable_source() = self_.id();
  *info.add_relay_path() = self_.id();
  info.set_function(function_);
  info.set_context_id(id_);
  const absl::Status error = MakeError(std::move(info));
  if (misuse_.ok()) misuse_ = error;
  return error;
}

void ContextCore::UpdateSendGateLocked() {
  sends_refused_.store(state_.stopped() || !remote_error_.ok() ||
                           (outcome_.has_value() && !outcome_->ok()),
                       std::memory_order_release);
}

std::shared_ptr<ContextTransport> ContextCore::transport() const {
  absl::MutexLock lock(&transport_mu_);
  return transport_.lock();
}

void ContextCore::StartWrite(absl::string_view frame, bool last) {
  if (std::shared_ptr<ContextTransport> t = transport()) {
    t->StartWrite(frame, last);
  }
}

void ContextCore::ReleaseBeforeBlocking() {
  BeforeNextBlock([weak = weak_from_this()] {
    if (std::shared_ptr<ContextCore> self = weak.lock()) {
      self->outbox_.OnSenderBlocking();
    }
  });
}

void ContextCore::AwaitingWriteDone() {
  std::shared_ptr<TaskPoller> poller;
  {
    absl::MutexLock lock(&mu_);
    poller = poller_;
  }
  if (poller == nullptr) return;
  PollReady(*poller);
  if (outbox_.awaiting_write_done()) HandleWriteDoneSoon(std::move(poller));
}

void ContextCore::HandleWriteDoneSoon(std::shared_ptr<TaskPoller> poller) {
  // A sender that computes without blocking does not poll: the timer
  // thread handles the completion, so its data leaves within the delay.
  RunAt(absl::Now() + kWriteDoneCheck,
        [weak = weak_from_this(), poller = std::move(poller)]() mutable {
          std::shared_ptr<ContextCore> self = weak.lock();
          if (self == nullptr) return;
          PollReady(*poller);
          if (self->outbox_.awaiting_write_done()) {
            self->HandleWriteDoneSoon(std::move(poller));
          }
        });
}

void ContextCore::ReleaseAfter(absl::Duration linger) {
  RunAt(absl::Now() + linger, [weak = weak_from_this()] {
    if (std::shared_ptr<ContextCore> self = weak.lock())
      self->outbox_.ReleaseHold();
  });
}

}  // namespace tether
