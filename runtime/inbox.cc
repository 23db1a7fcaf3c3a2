#include "runtime/inbox.h"

#include <utility>

#include "runtime/status_macros.h"

namespace tether {

Inbox::Inbox(Options options, std::function<void()> resume_reading)
    : options_(options),
      resume_reading_(std::move(resume_reading)),
      mode_(options.mode) {}

void Inbox::AllowOverruns() {
  absl::MutexLock lock(&mu_);
  if (mode_ == Mode::kOverrun) mode_ = Mode::kAllowOverruns;
}

size_t Inbox::Push(std::vector<Value> batch) {
  absl::MutexLock lock(&mu_);
  arrived_ += batch.size();
  if (!error_.ok() || discarding_) return 0;
  size_t overrun = 0;
  for (Value& value : batch) {
    if (buffer_.size() < options_.buffer_size && overflow_.empty()) {
      buffer_.push_back(std::move(value));
    } else if (mode_ == Mode::kOverrun) {
      ++overrun;
    } else if (mode_ == Mode::kAllowOverruns) {
      overflow_.push_back(std::move(value));
    } else {
      // kBackpressure: the batch was already read; hold it past the buffer
      // (senders bound a batch by the buffer size) and stop reading.
      buffer_.push_back(std::move(value));
    }
  }
  receivers_.NotifyAll();
  return overrun;
}

bool Inbox::DropIfUnwanted(size_t count) {
  absl::MutexLock lock(&mu_);
  if (error_.ok() && !discarding_) return false;
  arrived_ += count;
  return true;
}

bool Inbox::ShouldRead() {
  absl::MutexLock lock(&mu_);
  paused_ = !FitsLocked();
  return !paused_;
}

void Inbox::SetEnd(uint64_t data_count) {
  absl::MutexLock lock(&mu_);
  if (!end_.has_value()) end_ = data_count;
  receivers_.NotifyAll();
}

size_t Inbox::Fail(absl::Status error) {
  bool resume = false;
  size_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return 0;
    error_ = std::move(error);
    dropped = DropAllLocked();
    resume = std::exchange(paused_, false);
    receivers_.NotifyAll();
  }
  if (resume) resume_reading_();
  return dropped;
}

size_t Inbox::Discard() {
  bool resume = false;
  size_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    discarding_ = true;
    dropped = DropAllLocked();
    resume = std::exchange(paused_, false);
    receivers_.NotifyAll();
  }
  if (resume) resume_reading_();
  return dropped;
}

absl::StatusOr<Value> Inbox::Receive(absl::Time deadline) {
  bool resume = false;
  absl::StatusOr<Value> result;
  {
    absl::MutexLock lock(&mu_);
    absl::Status status = AwaitLocked(
        mu_, receivers_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReadyLocked(); },
        deadline);
    if (!status.ok()) return status;
    result = TakeLocked(&resume);
  }
  if (resume) resume_reading_();
  return result;
}

absl::StatusOr<std::optional<Value>> Inbox::TryReceive() {
  TETHER_RETURN_IF_ERROR(CheckCancelled());
  bool resume = false;
  absl::StatusOr<Value> result;
  {
    absl::MutexLock lock(&mu_);
    if (!ReadyLocked()) return std::nullopt;
    result = TakeLocked(&resume);
  }
  if (resume) resume_reading_();
  if (!result.ok()) return result.status();
  return std::optional<Value>(*std::move(result));
}

bool Inbox::reading_paused() const {
  absl::MutexLock lock(&mu_);
  return paused_;
}

bool Inbox::finished() const {
  absl::MutexLock lock(&mu_);
  return !error_.ok() || (buffer_.empty() && overflow_.empty() &&
                          end_.has_value() && arrived_ >= *end_);
}

bool Inbox::discarding() const {
  absl::MutexLock lock(&mu_);
  return discarding_ || !error_.ok();
}

uint64_t Inbox::arrived() const {
  absl::MutexLock lock(&mu_);
  return arrived_;
}

uint64_t Inbox::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

bool Inbox::FitsLocked() const {
  if (!error_.ok() || discarding_) return true;
  switch (mode_) {
    case Mode::kOverrun:
      return true;
    case Mode::kAllowOverruns:
      return overflow_.size() < options_.overflow_capacity;
    case Mode::kBackpressure:
      return buffer_.size() < options_.buffer_size;
  }
  return true;
}

bool Inbox::ReadyLocked() const {
  return !error_.ok() || !buffer_.empty() ||
         (end_.has_value() && arrived_ >= *end_ && overflow_.empty());
}

absl::StatusOr<Value> Inbox::TakeLocked(bool* resume) {
  if (!error_.ok()) return error_;
  if (buffer_.empty()) return absl::OutOfRangeError("end of stream");
  Value value = std::move(buffer_.front());
  buffer_.pop_front();
  ++received_;
  while (!overflow_.empty() && buffer_.size() < options_.buffer_size) {
    buffer_.push_back(std::move(overflow_.front()));
    overflow_.pop_front();
  }
  if (paused_ && FitsLocked()) {
    paused_ = false;
    *resume = true;
  }
  return value;
}

size_t Inbox::DropAllLocked() {
  const size_t dropped = buffer_.size() + overflow_.size();
  buffer_.clear();
  overflow_.clear();
  return dropped;
}

}  // namespace tether
