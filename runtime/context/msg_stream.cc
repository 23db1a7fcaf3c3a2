#include "tether/msg_stream.h"

#include <utility>

#include "runtime/context/context_core.h"
#include "tether/status_macros.h"

namespace tether {
namespace {

// How long a send that found the stream broken waits for the context's
// outcome, which gRPC delivers with the end of the call.
constexpr absl::Duration kStreamEndWait = absl::Seconds(1);

}  // namespace

absl::Status ContextCore::StreamSend(const Value& value, absl::Time deadline) {
  TETHER_RETURN_IF_ERROR(value.CheckNesting());
  if (sends_refused_.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&mu_);
    if (state_.stopped()) {
      return absl::FailedPreconditionError(
          "this side closed the stream (Stop sent)");
    }
    if (outcome_.has_value() && !outcome_->ok()) return outcome_->status();
    if (!remote_error_.ok()) return remote_error_;
  }
  absl::Status sent = outbox_.SendData(value, deadline);
  if (!absl::IsUnavailable(sent)) return sent;
  // The stream broke under the send, usually because the peer ended the
  // context; report why it ended, which arrives with the stream's end.
  AwaitOutcomeShielded(kStreamEndWait);
  absl::MutexLock lock(&mu_);
  if (outcome_.has_value() && !outcome_->ok()) return outcome_->status();
  return sent;
}

absl::StatusOr<Value> ContextCore::StreamReceive(absl::Time deadline) {
  return inbox_.Receive(deadline);
}

absl::StatusOr<std::optional<Value>> ContextCore::StreamTryReceive() {
  return inbox_.TryReceive();
}

absl::Status ContextCore::StreamClose() {
  {
    absl::MutexLock lock(&mu_);
    if (state_.stopped() || outcome_.has_value()) return absl::OkStatus();
    state_.Sent(FrameKind::kStop);
    UpdateSendGateLocked();
  }
  v1::Frame frame;
  frame.mutable_stop();
  outbox_.SendControl(std::move(frame));
  return absl::OkStatus();
}

absl::Status ContextCore::IterationStatus() const {
  absl::MutexLock lock(&mu_);
  return iteration_status_;
}

void ContextCore::SetIterationStatus(absl::Status status) {
  absl::MutexLock lock(&mu_);
  iteration_status_ = std::move(status);
}

bool ContextCore::StreamClosed() const {
  absl::MutexLock lock(&mu_);
  return state_.stopped() || outcome_.has_value();
}

absl::Status MsgStream::Send(const Value& value, absl::Time deadline) {
  return ContextCore::Of(*context_).StreamSend(value, deadline);
}

absl::StatusOr<Value> MsgStream::Receive(absl::Time deadline) {
  return ContextCore::Of(*context_).StreamReceive(deadline);
}

absl::StatusOr<std::optional<Value>> MsgStream::TryReceive() {
  return ContextCore::Of(*context_).StreamTryReceive();
}

absl::Status MsgStream::Close() {
  return ContextCore::Of(*context_).StreamClose();
}

bool MsgStream::closed() const {
  return ContextCore::Of(*context_).StreamClosed();
}

MsgStream::Iterator MsgStream::begin() {
  Iterator it(this);
  it.Fetch();
  return it;
}

absl::Status MsgStream::status() const {
  return ContextCore::Of(*context_).IterationStatus();
}

MsgStream::Iterator& MsgStream::Iterator::operator++() {
  Fetch();
  return *this;
}

void MsgStream::Iterator::Fetch() {
  absl::StatusOr<Value> next = stream_->Receive();
  if (next.ok()) {
    value_ = *std::move(next);
    return;
  }
  ContextCore::Of(*stream_->context_)
      .SetIterationStatus(absl::IsOutOfRange(next.status()) ? absl::OkStatus()
                                                            : next.status());
  stream_ = nullptr;
}

}  // namespace tether
