#include "runtime/context/internal/inbox.h"

#include <utility>

#include "runtime/task/wait.h"
#include "tether/status_macros.h"

namespace tether {
namespace context_internal {

Inbox::Inbox(Options options, std::function<void()> resume_reading,
             std::function<void(const absl::Status&)> malformed)
    : options_(options),
      resume_reading_(std::move(resume_reading)),
      malformed_(std::move(malformed)),
      mode_(options.mode) {}

void Inbox::AllowOverruns() {
  absl::MutexLock lock(&mu_);
  if (mode_ == Mode::kOverrun) mode_ = Mode::kAllowOverruns;
}

size_t Inbox::Push(YieldBatch batch) {
  absl::MutexLock lock(&mu_);
  arrived_ += batch.size();
  if (!error_.ok() || discarding_) return 0;
  size_t overrun = 0;
  // kAllowOverruns holds what does not fit as overflow; kBackpressure holds
  // it past the buffer (the batch was already read: senders bound a batch
  // by the buffer size) and stops reading.
  if (mode_ == Mode::kOverrun) {
    const size_t room = options_.buffer_size > held_count_
                            ? options_.buffer_size - held_count_
                            : 0;
    if (batch.size() > room) {
      overrun = batch.size() - room;
      batch.Truncate(room);
    }
  }
  if (!batch.empty()) {
    held_count_ += batch.size();
    held_.push_back(std::move(batch));
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
  bool malformed = false;
  absl::StatusOr<Value> result;
  {
    absl::MutexLock lock(&mu_);
    absl::Status status = AwaitLocked(
        mu_, receivers_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReadyLocked(); },
        deadline);
    if (!status.ok()) return status;
    result = TakeLocked(&resume, &malformed);
  }
  if (resume) resume_reading_();
  if (malformed) return OnMalformed(result.status());
  return result;
}

absl::StatusOr<std::optional<Value>> Inbox::TryReceive() {
  TETHER_RETURN_IF_ERROR(CheckCancelled());
  bool resume = false;
  bool malformed = false;
  absl::StatusOr<Value> result;
  {
    absl::MutexLock lock(&mu_);
    if (!ReadyLocked()) return std::nullopt;
    result = TakeLocked(&resume, &malformed);
  }
  if (resume) resume_reading_();
  if (malformed) return OnMalformed(result.status());
  if (!result.ok()) return result.status();
  return std::optional<Value>(*std::move(result));
}

bool Inbox::reading_paused() const {
  absl::MutexLock lock(&mu_);
  return paused_;
}

bool Inbox::finished() const {
  absl::MutexLock lock(&mu_);
  return !error_.ok() ||
         (held_count_ == 0 && end_.has_value() && arrived_ >= *end_);
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
      return held_count_ < options_.buffer_size + options_.overflow_capacity;
    case Mode::kBackpressure:
      return held_count_ < options_.buffer_size;
  }
  return true;
}

bool Inbox::ReadyLocked() const {
  return !error_.ok() || held_count_ > 0 ||
         (end_.has_value() && arrived_ >= *end_);
}

absl::StatusOr<Value> Inbox::TakeLocked(bool* resume, bool* malformed) {
  if (!error_.ok()) return error_;
  if (held_count_ == 0) return absl::OutOfRangeError("end of stream");
  absl::StatusOr<Value> value = held_.front().Next();
  if (held_.front().empty()) held_.pop_front();
  --held_count_;
  *malformed = !value.ok();
  ++received_;
  if (paused_ && FitsLocked()) {
    paused_ = false;
    *resume = true;
  }
  return value;
}

absl::Status Inbox::OnMalformed(const absl::Status& error) {
  if (malformed_) malformed_(error);
  Fail(error);  // Unless `malformed_` applied an error already.
  absl::MutexLock lock(&mu_);
  return error_;
}

size_t Inbox::DropAllLocked() {
  const size_t dropped = held_count_;
  held_.clear();
  held_count_ = 0;
  return dropped;
}

}  // namespace context_internal
}  // namespace tether
