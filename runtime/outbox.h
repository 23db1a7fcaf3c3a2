// File: runtime/outbox.h
//
// The sending half of one context stream. Control frames (StartAck,
// Started, Cancel, Error, Stop, Return) overtake queued data; data queued
// while a write is in flight leaves as one Yield batch (adaptive batching:
// one payload per write when idle, large batches under load); exactly one
// write is outstanding at a time.
//
//   Outbox outbox(&transport, Outbox::Options{});
//   TETHER_RETURN_IF_ERROR(outbox.SendData(Value::Int(1), deadline));
//   outbox.SendControl(StopFrame());          // data_count filled in here
//   // transport, when its write completes:
//   outbox.OnWriteDone(/*ok=*/true);
//
// Thread-safe. SendData is a cancellation point; everything else never
// blocks.

#ifndef TETHER_RUNTIME_OUTBOX_H_
#define TETHER_RUNTIME_OUTBOX_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "tether/v1/frame.pb.h"

namespace tether {

// Implemented by a transport (one gRPC stream).
class FrameWriter {
 public:
  virtual ~FrameWriter() = default;
  // Starts writing `*frame`, which stays valid and unchanged until the
  // transport calls Outbox::OnWriteDone. Never called again before that.
  // Called from any thread, never with the outbox's lock held.
  virtual void StartWrite(const v1::Frame* frame) = 0;
};

class Outbox {
 public:
  struct Options {
    // Queued data payloads beyond which SendData waits.
    size_t capacity = 256;
    // Upper bounds of one Yield batch.
    size_t max_batch_payloads = 256;
    size_t max_batch_bytes = 1 << 20;
  };

  Outbox(FrameWriter* writer, Options options);
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Queues one data payload. Waits while `capacity` payloads are queued.
  // Errors: the cancel reason; DeadlineExceeded; FailedPrecondition once a
  // frame ending this direction (Stop, Return, Error) was queued; the Close()
  // reason once the stream failed.
  absl::Status SendData(Value value, absl::Time deadline);

  // Queues a control frame ahead of every queued payload; never blocks.
  // Stop, Return and Error get `data_count` = payloads accepted so far and
  // end the data direction. Error also drops the queued data, which nobody
  // will read (the count is logged). Return and Error are final: control
  // frames queued after them are dropped, as after Close().
  void SendControl(v1::Frame frame);

  // Calls `drained` once, on some thread, when nothing is queued or in
  // flight any more (at once if that is already so), or when the stream
  // fails. Replaces an earlier callback that has not run.
  void WhenDrained(std::function<void()> drained);

  // The transport's write finished; `ok` false means the stream is broken.
  void OnWriteDone(bool ok);

  // Fails waiting and later sends with `reason` and drops what is queued.
  void Close(absl::Status reason);

  // Payloads accepted by SendData so far.
  uint64_t payloads_accepted() const;

  // Whether a write is in flight or data is queued, so that a frame sent
  // now may wait behind the peer's flow control.
  bool busy() const;

 private:
  // Picks the next frame to write, if any and no write is in flight.
  // Returns it (owned by in_flight_) or null.
  const v1::Frame* NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the drained callback if the outbox is idle.
  std::function<void()> TakeDrainedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Write(const v1::Frame* frame);

  FrameWriter* const writer_;
  const Options options_;

  mutable absl::Mutex mu_;
  std::deque<v1::Frame> control_ ABSL_GUARDED_BY(mu_);
  std::deque<Value> data_ ABSL_GUARDED_BY(mu_);
  // The frame being written; untouched while writing_.
  v1::Frame in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Set once Stop, Return or Error was queued.
  bool data_ended_ ABSL_GUARDED_BY(mu_) = false;
  // Set once Return or Error was queued.
  bool final_queued_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  WaitSet senders_ ABSL_GUARDED_BY(mu_);
  std::function<void()> drained_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_RUNTIME_OUTBOX_H_
