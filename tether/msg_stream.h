// File: tether/msg_stream.h
//
// MsgStream: one side's handle on a context's message stream (see
// tether/context.h), obtained from Context::OpenStream(). Values sent on
// one side arrive on the other in order; Close() tells the peer this side
// sends no more, and the peer's receives then end once it has everything.
//
// clang-format off
// Example:
//
//   // Echoes every value back, then reports how many there were.
//   absl::StatusOr<Value> EchoAll(Context& ctx, const Value&) {
//     TETHER_RETURN_IF_ERROR(ctx.Started());
//     TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
//     int64_t echoed = 0;
//     for (const Value& v : stream) {
//       TETHER_RETURN_IF_ERROR(stream.Send(v));
//       ++echoed;
//     }
//     TETHER_RETURN_IF_ERROR(stream.status());  // an error, not the end
//     TETHER_RETURN_IF_ERROR(stream.Close());
//     return Value::Int(echoed);
//   }
// clang-format on
//
// Thread-safety: a cheap handle, valid while its Context is. One task
// sends and one task receives at a time (they may be two tasks); the
// iterator is the receiving task's. Send and Receive are cancellation
// points.

#ifndef TETHER_MSG_STREAM_H_
#define TETHER_MSG_STREAM_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/value.h"

namespace tether {

class Context;

class MsgStream {
 public:
  // Queues `value` for the peer; waits while the send queue is full.
  absl::Status Send(const Value& value,
                    absl::Time deadline = absl::InfiniteFuture());
  // The next value; OutOfRange("end of stream") once the peer stopped and
  // everything it sent was received; the context's error; the cancel
  // reason; DeadlineExceeded.
  absl::StatusOr<Value> Receive(absl::Time deadline = absl::InfiniteFuture());
  // The next value if one is buffered, nullopt if none is yet.
  absl::StatusOr<std::optional<Value>> TryReceive();
  // Tells the peer this side sends no more (Stop). Idempotent.
  absl::Status Close();
  // This side closed its sending direction, or the context ended.
  bool closed() const;

  // Range-for over received values; ends at end of stream or at the first
  // error, which status() then reports (OK at a clean end of stream).
  class Iterator {
   public:
    const Value& operator*() const { return value_; }
    const Value* operator->() const { return &value_; }
    Iterator& operator++();
    bool operator!=(const Iterator& other) const {
      return stream_ != other.stream_;
    }

   private:
    friend class MsgStream;
    explicit Iterator(MsgStream* stream) : stream_(stream) {}
    void Fetch();
    MsgStream* stream_;
    Value value_;
  };
  Iterator begin();
  Iterator end() { return Iterator(nullptr); }
  // How the last iteration ended.
  absl::Status status() const;

 private:
  friend class ContextCore;
  explicit MsgStream(Context* context) : context_(context) {}
  Context* context_;
};

}  // namespace tether

#endif  // TETHER_MSG_STREAM_H_
