#include "runtime/outbox.h"

#include <utility>

#include "runtime/log.h"

namespace tether {

Outbox::Outbox(FrameWriter* writer, Options options)
    : writer_(writer), options_(options) {}

absl::Status Outbox::SendData(Value value, absl::Time deadline) {
  const v1::Frame* next = nullptr;
  {
    absl::MutexLock lock(&mu_);
    absl::Status status = AwaitLocked(
        mu_, senders_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !closed_.ok() || data_ended_ ||
                 data_.size() < options_.capacity;
        },
        deadline);
    if (!status.ok()) return status;
    if (!closed_.ok()) return closed_;
    if (data_ended_) {
      return absl::FailedPreconditionError(
          "the stream's sending side is closed (Stop, Return or Error sent)");
    }
    data_.push_back(std::move(value));
    ++accepted_;
    next = NextWriteLocked();
  }
  if (next != nullptr) Write(next);
  return absl::OkStatus();
}

void Outbox::SendControl(v1::Frame frame) {
  const v1::Frame* next = nullptr;
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
        if (!data_.empty()) {
          TETHER_LOG(kDebug) << "dropping " << data_.size()
                             << " queued payloads behind an Error";
          data_.clear();
        }
        break;
      default:
        break;
    }
    if (data_ended_) senders_.NotifyAll();
    control_.push_back(std::move(frame));
    next = NextWriteLocked();
  }
  if (next != nullptr) Write(next);
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
  const v1::Frame* next = nullptr;
  std::function<void()> drained;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    next = NextWriteLocked();
    drained = TakeDrainedLocked();
  }
  if (next != nullptr) Write(next);
  if (drained) drained();
}

void Outbox::Close(absl::Status reason) {
  std::function<void()> drained;
  {
    absl::MutexLock lock(&mu_);
    if (!closed_.ok()) return;
    closed_ = std::move(reason);
    control_.clear();
    data_.clear();
    senders_.NotifyAll();
    drained.swap(drained_);
  }
  if (drained) drained();
}

bool Outbox::busy() const {
  absl::MutexLock lock(&mu_);
  return writing_ || !data_.empty();
}

uint64_t Outbox::payloads_accepted() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

const v1::Frame* Outbox::NextWriteLocked() {
  if (writing_ || !closed_.ok()) return nullptr;
  if (!control_.empty()) {
    in_flight_ = std::move(control_.front());
    control_.pop_front();
  } else if (!data_.empty()) {
    in_flight_.Clear();
    std::vector<Value> batch;
    size_t bytes = 0;
    while (!data_.empty() && batch.size() < options_.max_batch_payloads &&
           (batch.empty() ||
            bytes + data_.front().ByteSizeLong() <= options_.max_batch_bytes)) {
      bytes += data_.front().ByteSizeLong();
      batch.push_back(std::move(data_.front()));
      data_.pop_front();
    }
    AppendToBatch(std::move(batch),
                  in_flight_.mutable_yield_batch()->mutable_values());
    senders_.NotifyAll();
  } else {
    return nullptr;
  }
  writing_ = true;
  return &in_flight_;
}

std::function<void()> Outbox::TakeDrainedLocked() {
  std::function<void()> drained;
  // A closed stream counts as drained: nothing queued will ever be written.
  if (!closed_.ok() || (!writing_ && control_.empty() && data_.empty())) {
    drained.swap(drained_);
  }
  return drained;
}

void Outbox::Write(const v1::Frame* frame) { writer_->StartWrite(frame); }

}  // namespace tether
