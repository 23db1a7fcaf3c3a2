// File: runtime/context/internal/outbox.h
//
// The sending half of one context stream. Control frames (StartAck,
// Started, Cancel, Error, Stop, Return) overtake queued data; data queued
// while a write is in flight leaves as one Yield batch (adaptive batching:
// one payload per write when idle, large batches under load); exactly one
// write is outstanding at a time. Frames are serialized as they are queued,
// payloads straight into the batch that will carry them.
//
// With a linger (Options::linger), the payloads of a burst (each sent less
// than Options::burst_gap after the one before) wait for more while no
// write is in flight, rather than leaving a few at a time: a send that
// continues a burst does not start a write, nor does a completed write
// while the burst goes on. Held payloads leave when their batch is full,
// once the data direction ends (Stop, Return, Error), before the sending
// thread blocks (FrameWriter::ReleaseBeforeBlocking), and after the linger
// at the latest (FrameWriter::ReleaseAfter). A send after a pause is
// written at once, as without a linger.
//
//   Outbox outbox(&transport, Outbox::Options{});
//   TETHER_RETURN_IF_ERROR(outbox.SendData(Value::Int(1), deadline));
//   outbox.SendControl(StopFrame());          // data_count filled in here
//   // transport, when its write completes:
//   outbox.OnWriteDone(/*ok=*/true);
//
// Thread-safe. SendData is a cancellation point; everything else never
// blocks.

#ifndef TETHER_RUNTIME_CONTEXT_INTERNAL_OUTBOX_H_
#define TETHER_RUNTIME_CONTEXT_INTERNAL_OUTBOX_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/context/internal/yield_wire.h"
#include "runtime/task/wait.h"
#include "tether/task.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether {
namespace context_internal {

// Implemented by a transport (one gRPC stream).
class FrameWriter {
 public:
  virtual ~FrameWriter() = default;
  // Starts writing `frame`, a serialized tether.v1.Frame whose bytes stay
  // valid and unchanged until the transport calls Outbox::OnWriteDone.
  // Never called again before that. Called from any thread, never with the
  // outbox's lock held. `last`: the final frame (Return or Error) has been
  // queued and this write empties the outbox, so nothing is written after
  // it.
  virtual void StartWrite(absl::string_view frame, bool last) = 0;
  // The calling thread sends in a burst: arrange for
  // Outbox::OnSenderBlocking() before it next blocks. Called on the sending
  // thread, without the outbox's lock; at most once until that call.
  virtual void ReleaseBeforeBlocking() = 0;
  // The outbox began holding payloads back: arrange for
  // Outbox::ReleaseHold() after `linger`. Called on any thread, without the
  // outbox's lock.
  virtual void ReleaseAfter(absl::Duration linger) = 0;
  // Frames are queued behind the write in flight: a transport whose write
  // completions wait for someone to poll them must see that they are
  // handled even if the sending task goes on without blocking. Called on
  // the sending thread, without the outbox's lock; once per write.
  virtual void AwaitingWriteDone() = 0;
};

class Outbox {
 public:
  struct Options {
    // Queued data payloads beyond which SendData waits.
    size_t capacity = 256;
    // Upper bounds of one Yield batch.
    size_t max_batch_payloads = 256;
    size_t max_batch_bytes = 1 << 20;
    // How long a burst's payloads may be held back for batching; zero
    // writes every payload as soon as no write is in flight.
    absl::Duration linger = absl::ZeroDuration();
    // Sends closer together than this count as one burst.
    absl::Duration burst_gap = absl::Microseconds(20);
  };

  Outbox(FrameWriter* writer, Options options);
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Queues one data payload. Waits while `capacity` payloads are queued.
  // Errors: InvalidArgument when the payload cannot fit in a frame the
  // receiver accepts (SetMaxFrameBytes); the cancel reason;
  // DeadlineExceeded; FailedPrecondition once a frame ending this direction
  // (Stop, Return, Error) was queued; the Close() reason once the stream
  // failed.
  absl::Status SendData(const Value& value, absl::Time deadline);

  // Senders poll `poller` while they wait (tether/task.h).
  void SetPoller(std::shared_ptr<TaskPoller> poller) {
    absl::MutexLock lock(&mu_);
    senders_.SetPoller(std::move(poller));
  }

  // The largest frame the receiver accepts, once known; 0 (the initial
  // value) sets no limit. A payload that could not fit is refused by
  // SendData, not sent to be answered as a protocol violation that would
  // end the context.
  void SetMaxFrameBytes(uint32_t bytes) {
    max_frame_bytes_.store(bytes, std::memory_order_relaxed);
  }

  // InvalidArgument when a payload of `payload_bytes` (Value::ByteSizeLong)
  // could not fit in a frame the receiver accepts; for payloads that do not
  // go through SendData (a Started value, a result).
  absl::Status CheckFits(size_t payload_bytes) const;

  // Queues a control frame ahead of every queued payload; never blocks.
  // Stop, Return and Error get `data_count` = payloads accepted so far and
  // end the data direction. Error also drops the queued data, which nobody
  // will read (the count is logged). Return and Error are final: control
  // frames queued after them are dropped, as after Close().
  void SendControl(v1::Frame&& frame);

  // Calls `drained` once, on some thread, when nothing is queued or in
  // flight any more (at once if that is already so), or when the stream
  // fails. Replaces an earlier callback that has not run.
  void WhenDrained(std::function<void()> drained);

  // The transport's write finished; `ok` false means the stream is broken.
  void OnWriteDone(bool ok);

  // Writes the payloads held back, if any and no write is in flight; the
  // burst goes on, and a later hold arms a new release. For
  // FrameWriter::ReleaseAfter. Never blocks.
  void ReleaseHold();
  // The sending thread is about to block: ends its burst and writes what is
  // held. For FrameWriter::ReleaseBeforeBlocking. Never blocks.
  void OnSenderBlocking();

  // Fails waiting and later sends with `reason` and drops what is queued.
  void Close(absl::Status reason);

  // Payloads accepted by SendData so far.
  uint64_t payloads_accepted() const;

  // Whether a write is in flight or data is queued, so that a frame sent
  // now may wait behind the peer's flow control.
  bool busy() const;

  // Whether frames wait for the write in flight to complete.
  bool awaiting_write_done() const;

 private:
  // What to do once the lock is released.
  struct Step {
    // The frame to write, if any.
    const std::string* frame = nullptr;
    // Whether it is the last frame this outbox writes.
    bool last = false;
    // A hold began and no release is pending: arrange one.
    bool arm_release = false;
  };
  // Bursts are timed on the steady clock: it is read once per payload,
  // and absl::Now() costs several times as much (~140 ns against ~35 ns
  // on the 2-vCPU machine of docs/performance.md).
  using Clock = std::chrono::steady_clock;

  // Picks the next frame to write, if any and no write is in flight (and,
  // if `may_hold`, the data is not to be held back), and moves it to
  // in_flight_. `now`: the current time, if the caller has just read it.
  Step NextWriteLocked(bool may_hold = true,
                       std::optional<Clock::time_point> now = std::nullopt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether queued data should wait for more of the burst. Reads the clock
  // only if `now` is unknown and the rest says hold.
  bool HoldLocked(std::optional<Clock::time_point> now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inlined: gRPC may write inline below it, and one more frame there
  // measurably deepened every task's stack (a page per thread).
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Run(const Step& step) {
    if (step.arm_release) writer_->ReleaseAfter(options_.linger);
    if (step.frame != nullptr) writer_->StartWrite(*step.frame, step.last);
  }
  // Whether to call FrameWriter::AwaitingWriteDone now: frames wait for
  // the write in flight, and it was not called for that write yet.
  bool ReportAwaitingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the drained callback if the outbox is idle.
  std::function<void()> TakeDrainedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FrameWriter* const writer_;
  const Options options_;
  const Clock::duration burst_gap_;
  std::atomic<uint32_t> max_frame_bytes_{0};

  mutable absl::Mutex mu_;
  // Serialized control frames, in order.
  std::deque<std::string> control_ ABSL_GUARDED_BY(mu_);
  // Yield frames waiting to be written; new payloads go to the last one
  // until it is full.
  std::deque<YieldFrameBuilder> batches_ ABSL_GUARDED_BY(mu_);
  size_t queued_payloads_ ABSL_GUARDED_BY(mu_) = 0;
  // The Value::ByteSizeLong() sum of the payloads in batches_.back().
  size_t last_batch_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The frame being written; untouched while writing_.
  std::string in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // FrameWriter::AwaitingWriteDone was called for the write in flight.
  bool awaiting_reported_ ABSL_GUARDED_BY(mu_) = false;
  // When SendData last queued a payload (with a linger only), and whether
  // that was within the burst gap of the one before.
  std::optional<Clock::time_point> last_send_ ABSL_GUARDED_BY(mu_);
  bool burst_ ABSL_GUARDED_BY(mu_) = false;
  // FrameWriter::ReleaseBeforeBlocking was called, OnSenderBlocking not yet.
  bool sender_release_armed_ ABSL_GUARDED_BY(mu_) = false;
  // FrameWriter::ReleaseAfter was called, ReleaseHold not yet. One timer
  // serves every hold until it fires: a long burst is cut into pieces at
  // most a linger apart rather than arming a timer per batch.
  bool release_pending_ ABSL_GUARDED_BY(mu_) = false;
  // Set once Stop, Return or Error was queued.
  bool data_ended_ ABSL_GUARDED_BY(mu_) = false;
  // Set once Return or Error was queued.
  bool final_queued_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  WaitSet senders_ ABSL_GUARDED_BY(mu_);
  std::function<void()> drained_ ABSL_GUARDED_BY(mu_);
};

}  // namespace context_internal
}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_INTERNAL_OUTBOX_H_
