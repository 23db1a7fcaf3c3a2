#include "runtime/context/internal/outbox_test_harness.h"

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/context/internal/yield_wire.h"

namespace tether {

void PrintTo(const Value& value, std::ostream* os) { *os << value.ToJson(); }

namespace context_internal {

namespace outbox_test {

std::vector<Value> BatchValues(const v1::Frame& frame) {
  if (!frame.has_yield_batch()) {
    ADD_FAILURE() << "not a Yield frame: " << frame.ShortDebugString();
    return {};
  }
  absl::StatusOr<YieldBatch> batch =
      YieldBatch::Parse(frame.yield_batch().SerializeAsString());
  if (!batch.ok()) {
    ADD_FAILURE() << batch.status();
    return {};
  }
  std::vector<Value> values;
  while (!batch->empty()) {
    absl::StatusOr<Value> value = batch->Next();
    if (!value.ok()) {
      ADD_FAILURE() << value.status();
      return {};
    }
    values.push_back(*std::move(value));
  }
  return values;
}

std::string Describe(const v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kYieldBatch: {
      std::vector<std::string> values;
      for (const Value& value : BatchValues(frame)) {
        values.push_back(value.ToJson());
      }
      return absl::StrCat("yield(", absl::StrJoin(values, ","), ")");
    }
    case v1::Frame::kStarted:
      return "started";
    case v1::Frame::kStop:
      return absl::StrCat("stop(", frame.stop().data_count(), ")");
    case v1::Frame::kReturned:
      return absl::StrCat("return(", frame.returned().data_count(), ")");
    case v1::Frame::kError:
      return absl::StrCat("error(", frame.error().data_count(), ")");
    case v1::Frame::kCancel:
      return "cancel";
    default:
      return frame.ShortDebugString();
  }
}

v1::Frame StartedFrame() {
  v1::Frame frame;
  *frame.mutable_started()->mutable_value() = Value::Int(0).ToProto();
  return frame;
}

v1::Frame StopFrame() {
  v1::Frame frame;
  frame.mutable_stop();
  return frame;
}

v1::Frame ReturnFrame(const Value& value) {
  v1::Frame frame;
  *frame.mutable_returned()->mutable_value() = value.ToProto();
  return frame;
}

v1::Frame ErrorFrame() {
  v1::Frame frame;
  frame.mutable_error()->mutable_error()->set_message("it failed");
  return frame;
}

v1::Frame CancelFrame() {
  v1::Frame frame;
  frame.mutable_cancel();
  return frame;
}

void FakeWriter::ReleaseBeforeBlocking() {
  absl::MutexLock lock(&mu_);
  ++release_before_blocking_requests_;
}

void FakeWriter::ReleaseAfter(absl::Duration linger) {
  absl::MutexLock lock(&mu_);
  ++release_after_requests_;
}

void FakeWriter::AwaitingWriteDone() {
  absl::MutexLock lock(&mu_);
  ++awaiting_reports_;
}

int FakeWriter::awaiting_reports() const {
  absl::MutexLock lock(&mu_);
  return awaiting_reports_;
}

int FakeWriter::release_before_blocking_requests() const {
  absl::MutexLock lock(&mu_);
  return release_before_blocking_requests_;
}

int FakeWriter::release_after_requests() const {
  absl::MutexLock lock(&mu_);
  return release_after_requests_;
}

void FakeWriter::StartWrite(absl::string_view frame, bool last) {
  v1::Frame parsed;
  if (!parsed.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    ADD_FAILURE() << "the outbox wrote a frame that does not parse";
  }
  absl::MutexLock lock(&mu_);
  if (in_flight_.has_value()) ++overlapping_writes_;
  in_flight_ = frame;
  in_flight_copy_ = std::string(frame);
  if (last) writes_marked_last_.push_back(frames_.size());
  frames_.push_back(std::move(parsed));
}

bool FakeWriter::Complete(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    if (!in_flight_.has_value()) return false;
    if (*in_flight_ != in_flight_copy_) ++changed_frames_;
    in_flight_.reset();
  }
  outbox_->OnWriteDone(ok);
  return true;
}

void FakeWriter::CompleteAll() {
  for (int i = 0; i < 1000 && Complete(); ++i) {
  }
}

bool FakeWriter::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_.has_value();
}

std::vector<v1::Frame> FakeWriter::frames() const {
  absl::MutexLock lock(&mu_);
  return frames_;
}
std::vector<size_t> FakeWriter::writes_marked_last() const {
  absl::MutexLock lock(&mu_);
  return writes_marked_last_;
}

std::string FakeWriter::Log() const {
  std::vector<std::string> parts;
  for (const v1::Frame& frame : frames()) parts.push_back(Describe(frame));
  return absl::StrJoin(parts, " ");
}

int FakeWriter::overlapping_writes() const {
  absl::MutexLock lock(&mu_);
  return overlapping_writes_;
}

int FakeWriter::changed_frames() const {
  absl::MutexLock lock(&mu_);
  return changed_frames_;
}

Outbox::Options WithCapacity(size_t capacity) {
  Outbox::Options options;
  options.capacity = capacity;
  return options;
}

}  // namespace outbox_test
}  // namespace context_internal
}  // namespace tether
