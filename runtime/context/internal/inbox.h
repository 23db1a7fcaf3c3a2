// File: runtime/context/internal/inbox.h
//
// The receiving half of one context stream: a bounded buffer between the
// transport, which pushes each Yield batch as it arrives, still serialized,
// and the task, which decodes each payload as it receives it. Decides
// whether the transport keeps reading (the flow-control modes of
// frame.proto):
//
//   kOverrun        always read; a payload that does not fit is dropped and
//                   reported as an overrun (the caller fails the context).
//   kAllowOverruns  spill into a bounded overflow queue, drained in order;
//                   stop reading when that is full too. Never drops.
//   kBackpressure   stop reading when the buffer is full, so gRPC flow
//                   control holds the sender back.
//
// End of stream (the peer's Stop or Return) is known as soon as it arrives
// but delivered only after the `data_count` payloads it announced. An error
// applied with Fail() overtakes everything: buffered payloads are dropped and
// counted, and receivers get the error at once.
//
//   Inbox inbox({Inbox::Mode::kOverrun, 64}, [&] { transport.StartRead(); });
//   size_t dropped = inbox.Push(std::move(batch));      // transport thread
//   if (inbox.ShouldRead()) transport.StartRead();       // else wait: the
//                                                        // inbox calls back
//   absl::StatusOr<Value> v = inbox.Receive(deadline);   // task thread
//
// Thread-safe. Receive is a cancellation point; nothing else blocks.

#ifndef TETHER_RUNTIME_CONTEXT_INTERNAL_INBOX_H_
#define TETHER_RUNTIME_CONTEXT_INTERNAL_INBOX_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/context/internal/yield_wire.h"
#include "runtime/task/wait.h"
#include "tether/task.h"
#include "tether/value.h"

namespace tether {
namespace context_internal {

class Inbox {
 public:
  enum class Mode { kOverrun, kAllowOverruns, kBackpressure };

  struct Options {
    Mode mode = Mode::kOverrun;
    // Payloads the task can leave unreceived before the mode applies.
    size_t buffer_size = 64;
    // kAllowOverruns: payloads held beyond the buffer before reading stops.
    size_t overflow_capacity = 4096;
  };

  // `resume_reading` is called (never with the lock held) when the inbox
  // wants reads again after ShouldRead() said no. `malformed` is called
  // (likewise) with the error when a payload taken by a receiver does not
  // decode; the receiver then gets the inbox's error, which is the one
  // `malformed` applied with Fail() or else that error.
  Inbox(Options options, std::function<void()> resume_reading,
        std::function<void(const absl::Status&)> malformed = nullptr);
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Receivers poll `poller` while they wait (tether/task.h).
  void SetPoller(std::shared_ptr<TaskPoller> poller) {
    absl::MutexLock lock(&mu_);
    receivers_.SetPoller(std::move(poller));
  }

  // Switches kOverrun to kAllowOverruns (a side opening its stream with
  // allow_overruns); other modes are kept.
  void AllowOverruns();

  // Transport side. Accepts one batch, still serialized (receivers decode
  // the payloads they take); returns how many payloads did not fit
  // (kOverrun only; always 0 in the other modes).
  size_t Push(YieldBatch batch);

  // Transport side. Counts `count` payloads that arrived and returns true
  // when nobody will receive them (after Fail or Discard), so the caller
  // can skip decoding them; false means they must be Push()ed.
  bool DropIfUnwanted(size_t count);

  // Transport side. Whether to read the next frame now. When it answers
  // false, the inbox calls `resume_reading` once it wants more.
  bool ShouldRead();

  // The peer sends no more data after `data_count` payloads in total.
  void SetEnd(uint64_t data_count);

  // Applies `error` at once: receivers get it, buffered and later payloads
  // are dropped. Returns the number dropped now. The first error wins.
  size_t Fail(absl::Status error);

  // Drops everything buffered now and arriving later, and keeps the
  // transport reading (so control frames behind the data still arrive).
  // Returns the number dropped now. For a context's exit.
  size_t Discard();

  // Task side. The next payload; OutOfRange("end of stream") after the
  // last; the Fail() error; the cancel reason; DeadlineExceeded.
  absl::StatusOr<Value> Receive(absl::Time deadline);

  // The next payload if one is buffered, nullopt if none is yet; errors as
  // for Receive.
  absl::StatusOr<std::optional<Value>> TryReceive();

  // Whether reading is stopped: ShouldRead() said no and the inbox has not
  // asked to resume since.
  bool reading_paused() const;

  // True once end of stream or an error would be returned.
  bool finished() const;

  // True once Discard() or Fail() was called: arriving payloads are dropped
  // unread.
  bool discarding() const;

  // Payloads that arrived (including dropped ones) and that were received.
  uint64_t arrived() const;
  uint64_t received() const;

 private:
  bool FitsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the next buffered payload or the terminal status; REQUIRES
  // ReadyLocked(). Sets *resume when reading should restart.
  // A payload that does not decode comes back as its error with *malformed
  // set.
  absl::StatusOr<Value> TakeLocked(bool* resume, bool* malformed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a receiver gets for a payload that did not decode.
  absl::Status OnMalformed(const absl::Status& error) ABSL_LOCKS_EXCLUDED(mu_);
  size_t DropAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const std::function<void()> resume_reading_;
  const std::function<void(const absl::Status&)> malformed_;

  mutable absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_);
  // Payloads held for the task, oldest first, in the batches they arrived
  // in. The first buffer_size of them are the buffer; the rest are the
  // overflow (kAllowOverruns) or held past the buffer (kBackpressure).
  std::deque<YieldBatch> held_ ABSL_GUARDED_BY(mu_);
  size_t held_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> end_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool discarding_ ABSL_GUARDED_BY(mu_) = false;
  // ShouldRead() said no and resume_reading_ has not been called since.
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t arrived_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t received_ ABSL_GUARDED_BY(mu_) = 0;
  WaitSet receivers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace context_internal
}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_INTERNAL_INBOX_H_
