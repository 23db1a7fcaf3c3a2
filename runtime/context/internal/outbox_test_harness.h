// File: runtime/context/internal/outbox_test_harness.h
//
// Test support for the Outbox tests (runtime/context/internal/outbox_test.cc,
// runtime/context/internal/outbox_flow_test.cc): an Outbox writing to a
// FakeWriter, a transport that records every frame and completes a write only
// when the test says so, and frames to send and describe.
//
//   Harness h(WithCapacity(2));
//   ASSERT_TRUE(h.Send(1).ok());
//   h.outbox().SendControl(StopFrame());
//   h.writer().CompleteAll();
//   EXPECT_EQ(h.writer().Log(), "yield(1) stop(1)");
//
// FakeWriter is thread-safe (a sender task may start a write); a Harness
// is driven by one test thread.

#ifndef TETHER_RUNTIME_CONTEXT_INTERNAL_OUTBOX_TEST_HARNESS_H_
#define TETHER_RUNTIME_CONTEXT_INTERNAL_OUTBOX_TEST_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/context/internal/outbox.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether {

// Failure messages show values as JSON.
void PrintTo(const Value& value, std::ostream* os);

namespace context_internal {

namespace outbox_test {

// Long enough that reaching it means a wake-up was lost.
inline constexpr absl::Duration kHang = absl::Seconds(30);

// The payloads of a Yield frame; a test failure when it is not a valid one.
std::vector<Value> BatchValues(const v1::Frame& frame);

// A frame in short: "yield(1,2)", "started", "stop(3)", "return(3)",
// "error(3)", "cancel".
std::string Describe(const v1::Frame& frame);

v1::Frame StartedFrame();
v1::Frame StopFrame();
v1::Frame ReturnFrame(const Value& value);
v1::Frame ErrorFrame();
v1::Frame CancelFrame();

// A transport that records every frame the outbox starts writing and
// completes a write only when the test says so. Notes a second write
// started while one is in flight, and a frame that changed while in
// flight. Thread-safe: a sender task may start a write.
class FakeWriter : public FrameWriter {
 public:
  void set_outbox(Outbox* outbox) { outbox_ = outbox; }

  void StartWrite(absl::string_view frame, bool last) override;
  // Count the requests; the test releases holds itself.
  void ReleaseBeforeBlocking() override;
  void ReleaseAfter(absl::Duration linger) override;
  void AwaitingWriteDone() override;
  int release_before_blocking_requests() const;
  int release_after_requests() const;
  int awaiting_reports() const;

  // Completes the write in flight with `ok`; false when none is.
  bool Complete(bool ok = true);

  // Completes writes, including those each completion starts, until none
  // is in flight.
  void CompleteAll();

  bool in_flight() const;

  std::vector<v1::Frame> frames() const;

  // Indexes into frames() of the writes the outbox marked last.
  std::vector<size_t> writes_marked_last() const;

  // Every frame written so far, described, in order, space-separated.
  std::string Log() const;

  int overlapping_writes() const;

  int changed_frames() const;

 private:
  // Set once, before the outbox can start a write.
  Outbox* outbox_ = nullptr;
  mutable absl::Mutex mu_;
  // The bytes being written, and a copy to check they stay unchanged.
  std::optional<absl::string_view> in_flight_ ABSL_GUARDED_BY(mu_);
  std::string in_flight_copy_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Frame> frames_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> writes_marked_last_ ABSL_GUARDED_BY(mu_);
  int overlapping_writes_ ABSL_GUARDED_BY(mu_) = 0;
  int release_before_blocking_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int release_after_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int awaiting_reports_ ABSL_GUARDED_BY(mu_) = 0;
  int changed_frames_ ABSL_GUARDED_BY(mu_) = 0;
};

// An outbox writing to a FakeWriter; checks the writer's invariants at the
// end of each test.
class Harness {
 public:
  explicit Harness(Outbox::Options options = Outbox::Options())
      : outbox_(&writer_, options) {
    writer_.set_outbox(&outbox_);
  }

  ~Harness() {
    EXPECT_EQ(writer_.overlapping_writes(), 0)
        << "a write started while another was in flight";
    EXPECT_EQ(writer_.changed_frames(), 0)
        << "a frame changed while it was being written";
  }

  Outbox& outbox() { return outbox_; }
  FakeWriter& writer() { return writer_; }

  // Sends an integer payload with a deadline far enough to mean "hang".
  absl::Status Send(int64_t n) {
    return outbox_.SendData(Value::Int(n), absl::Now() + kHang);
  }

 private:
  FakeWriter writer_;
  Outbox outbox_;
};

Outbox::Options WithCapacity(size_t capacity);

}  // namespace outbox_test
}  // namespace context_internal
}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_INTERNAL_OUTBOX_TEST_HARNESS_H_
