#include "runtime/context/internal/outbox.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/log.h"
#include "runtime/task/wait.h"
#include "tether/status_macros.h"

namespace tether {
namespace context_internal {
namespace {

// What a frame adds around a lone payload, at most: the tags and lengths
// of the frame's field and of the payload in it, and a Return's data_count.
constexpr size_t kEnvelopeBytes = 32;

}  // namespace

Outbox::Outbox(FrameWriter* writer, Options options)
    : writer_(writer),
      options_(options),
      burst_gap_(absl::ToChronoNanoseconds(options.burst_gap)) {}

absl::Status Outbox::CheckFits(size_t payload_bytes) const {
  const uint32_t limit = max_frame_bytes_.load(std::memory_order_relaxed);
  if (limit > 0 && payload_bytes + kEnvelopeBytes > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("a payload of ", payload_bytes,
                     " bytes does not fit in a frame the receiver accepts (",
                     limit, " bytes)"));
  }
  return absl::OkStatus();
}

absl::Status Outbox::SendData(const Value& value, absl::Time deadline) {
  const size_t size = value.ByteSizeLong();
  TETHER_RETURN_IF_ERROR(CheckFits(size));
  Step step;
  bool arm_sender_release = false;
  bool report_awaiting = false;
  {
    absl::MutexLock lock(&mu_);
    absl::Status status = AwaitLocked(
        mu_, senders_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !closed_.ok() || data_ended_ ||
                 queued_payloads_ < options_.capacity;
        },
        deadline);
    if (!status.ok()) return status;
    if (!closed_.ok()) return closed_;
    if (data_ended_) {
      return absl::FailedPreconditionError(
          "the stream's sending side is closed (Stop, Return or Error sent)");
    }
    // A batch takes payloads up to its bounds; a lone payload may exceed
    // the byte bound.
    if (batches_.empty() ||
        batches_.back().payloads() >= options_.max_batch_payloads ||
        (batches_.back().payloads() > 0 &&
         last_batch_bytes_ + size > options_.max_batch_bytes)) {
      batches_.emplace_back();
      last_batch_bytes_ = 0;
    }
    batches_.back().Append(value);
    last_batch_bytes_ += size;
    ++queued_payloads_;
    ++accepted_;
    std::optional<Clock::time_point> now;
    if (options_.linger > absl::ZeroDuration()) {
      now = Clock::now();
      burst_ = last_send_.has_value() && *now - *last_send_ < burst_gap_;
      last_send_ = *now;
      if (burst_ && !sender_release_armed_) {
        sender_release_armed_ = true;
        arm_sender_release = true;
      }
    }
    step = NextWriteLocked(/*may_hold=*/true, now);
    report_awaiting = ReportAwaitingLocked();
  }
  if (arm_sender_release) writer_->ReleaseBeforeBlocking();
  Run(step);
  if (report_awaiting) writer_->AwaitingWriteDone();
  return absl::OkStatus();
}

void Outbox::ReleaseHold() {
  Step step;
  {
    absl::MutexLock lock(&mu_);
    release_pending_ = false;
    step = NextWriteLocked(/*may_hold=*/false);
  }
  Run(step);
}

void Outbox::OnSenderBlocking() {
  Step step;
  {
    absl::MutexLock lock(&mu_);
    sender_release_armed_ = false;
    burst_ = false;
    last_send_.reset();
    step = NextWriteLocked();
  }
  Run(step);
}

void Outbox::SendControl(v1::Frame&& frame) {
  Step step;
  bool report_awaiting = false;
  {
    absl::MutexLock lock(&mu_);
    if (!closed_.ok() || final_queued_) return;
    switch (frame.kind_case()) {
      case v1::Frame::kStop:
        frame.mutable_stop()->set_data_count(accepted_);
        data_ended_ = true;
        break;
      case v1::Frame::kReturned:
        frame.mutable_returned()->set_data_count(accepted_);
        data_ended_ = true;
        final_queued_ = true;
        break;
      case v1::Frame::kError:
        frame.mutable_error()->set_data_count(accepted_);
        data_ended_ = true;
        final_queued_ = true;
        if (queued_payloads_ > 0) {
          TETHER_LOG(kDebug) << "dropping " << queued_payloads_
                             << " queued payloads behind an Error";
          batches_.clear();
          queued_payloads_ = 0;
        }
        break;
      default:
        break;
    }
    if (data_ended_) senders_.NotifyAll();
    control_.push_back(frame.SerializeAsString());
    step = NextWriteLocked();
    report_awaiting = ReportAwaitingLocked();
  }
  Run(step);
  if (report_awaiting) writer_->AwaitingWriteDone();
}

void Outbox::WhenDrained(std::function<void()> drained) {
  std::function<void()> ready;
  {
    absl::MutexLock lock(&mu_);
    drained_ = std::move(drained);
    ready = TakeDrainedLocked();
  }
  if (ready) ready();
}

void Outbox::OnWriteDone(bool ok) {
  if (!ok) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    Close(absl::UnavailableError("the stream broke while writing"));
    return;
  }
  Step step;
  std::function<void()> drained;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    awaiting_reported_ = false;
    step = NextWriteLocked();
    drained = TakeDrainedLocked();
  }
  Run(step);
  if (drained) drained();
}

void Outbox::Close(absl::Status reason) {
  std::function<void()> drained;
  {
    absl::MutexLock lock(&mu_);
    if (!closed_.ok()) return;
    closed_ = std::move(reason);
    control_.clear();
    batches_.clear();
    queued_payloads_ = 0;
    senders_.NotifyAll();
    drained.swap(drained_);
  }
  if (drained) drained();
}

bool Outbox::busy() const {
  absl::MutexLock lock(&mu_);
  return writing_ || !batches_.empty();
}

bool Outbox::awaiting_write_done() const {
  absl::MutexLock lock(&mu_);
  return writing_ && (!control_.empty() || !batches_.empty());
}

bool Outbox::ReportAwaitingLocked() {
  return writing_ && (!control_.empty() || !batches_.empty()) &&
         !std::exchange(awaiting_reported_, true);
}

uint64_t Outbox::payloads_accepted() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

Outbox::Step Outbox::NextWriteLocked(bool may_hold,
                                     std::optional<Clock::time_point> now) {
  Step step;
  if (writing_ || !closed_.ok()) return step;
  if (!control_.empty()) {
    in_flight_ = std::move(control_.front());
    control_.pop_front();
  } else if (!batches_.empty()) {
    if (may_hold && HoldLocked(now)) {
      step.arm_release = !std::exchange(release_pending_, true);
      return step;
    }
    queued_payloads_ -= batches_.front().payloads();
    in_flight_ = std::move(batches_.front()).Finish();
    batches_.pop_front();
    senders_.NotifyAll();
  } else {
    return step;
  }
  writing_ = true;
  step.frame = &in_flight_;
  step.last = final_queued_ && control_.empty() && batches_.empty();
  return step;
}

bool Outbox::HoldLocked(std::optional<Clock::time_point> now) const {
  // The sender is in a burst (so last_send_ is set) and still sending, and
  // the batch it fills is the only one and has room.
  return burst_ && !data_ended_ && batches_.size() == 1 &&
         batches_.front().payloads() < options_.max_batch_payloads &&
         (now.has_value() ? *now : Clock::now()) - *last_send_ < burst_gap_;
}

std::function<void()> Outbox::TakeDrainedLocked() {
  std::function<void()> drained;
  // A closed stream counts as drained: nothing queued will ever be written.
  if (!closed_.ok() || (!writing_ && control_.empty() && batches_.empty())) {
    drained.swap(drained_);
  }
  return drained;
}

}  // namespace context_internal
}  // namespace tether
