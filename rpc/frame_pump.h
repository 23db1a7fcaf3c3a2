// File: rpc/frame_pump.h
//
// What both ends of a context's gRPC stream do alike. The callee's end
// (server/context_call.h) and the opener's (client/opener_stream.h) each
// derive from FramePump, which moves frames between their stream and its
// context:
//
//   - one read in flight at most; the frame it brings goes to the end (and
//     from there to the context) as bytes, with the reason when they are
//     unusable; then reading pauses while the context's inbox is full,
//     until the context asks for more (ContextTransport::ResumeReading);
//   - one write in flight at most; a task's write reaches gRPC without the
//     lock that reads take, so handling a read never waits for a write.
//
// How a call starts and ends differs between the ends and stays with them:
// they start the first read, stage and write frames, and hear about each
// frame read, the end of the read side and each completed write.
//
//   class OpenerStream final : public ContextTransport,
//                              public FramePump<Stream> {
//     ContextCore* OnFrameRead(absl::string_view bytes,
//                              absl::string_view problem) override;
//     void OnReadClosed() override;
//     void OnWriteCompleted(bool ok) override;
//     bool ReadsWantedLocked() const override;
//   };
//
// Thread-safe: events are handled by whichever thread polls the queue; the
// context's tasks start writes from their own threads. Lock order:
// write_mu_, then mu_.

#ifndef TETHER_RPC_FRAME_PUMP_H_
#define TETHER_RPC_FRAME_PUMP_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "rpc/call_queue.h"
#include "runtime/context/context_core.h"
#include "runtime/task/wait.h"

namespace tether {

template <typename Stream>
class FramePump {
 public:
  FramePump(const FramePump&) = delete;
  FramePump& operator=(const FramePump&) = delete;

  // The context asks for reads again (ContextTransport::ResumeReading).
  void ResumeReading() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (reading_ != Reading::kPaused || !ReadsWantedLocked()) return;
    StartReadLocked();
  }

 protected:
  // What the read side is doing.
  enum class Reading {
    kIdle,     // no read yet
    kReading,  // a read is in flight, or its frame is being handed on
    kPaused,   // none is: the inbox is full, or reads are no longer wanted
    kClosed,   // the peer half-closed, or the call is over
  };

  // A frame above `max_frame_bytes` (0: no limit) is handed on as a
  // problem.
  FramePump(std::shared_ptr<CallQueue> queue, size_t max_frame_bytes)
      : queue_(std::move(queue)), max_frame_bytes_(max_frame_bytes) {
    absl::MutexLock lock(&mu_);
    waiters_.SetPoller(queue_);
  }
  virtual ~FramePump() = default;

  // A read brought a frame: `bytes`, valid during the call, or `problem`
  // when they are unusable. Returns the context whose inbox decides
  // whether to read on, or null to read no more. No lock held.
  virtual ContextCore* OnFrameRead(absl::string_view bytes,
                                   absl::string_view problem) = 0;
  // The read side ended: the peer half-closed, or the call is over. No
  // lock held.
  virtual void OnReadClosed() = 0;
  // The write in flight completed; `ok` false means the stream broke. No
  // lock held.
  virtual void OnWriteCompleted(bool ok) = 0;
  // Whether reads may start now (the call is not ending).
  virtual bool ReadsWantedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  // The stream to read and write; before the first read or write.
  void set_stream(Stream* stream) { stream_ = stream; }

  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reading_ = Reading::kReading;
    stream_->Read(&in_, &read_op_);
  }

  // Makes `frame` the next write. A copy: the context may reuse its bytes
  // once the write completes, and gRPC holds them until then.
  void StageWrite(absl::string_view frame)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    grpc::Slice slice(frame.data(), frame.size());
    grpc::ByteBuffer buffer(&slice, 1);
    out_.Swap(&buffer);
  }
  // Writes the staged frame. Without mu_: gRPC may write all the way to
  // the socket here, and a read's handling must not wait for that.
  void WriteStaged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_LOCKS_EXCLUDED(mu_) {
    stream_->Write(out_, &write_op_);
  }

  const std::shared_ptr<CallQueue> queue_;

  // Two locks, so that handling a read never waits for a write: a task's
  // write holds write_mu_ while gRPC writes, often all the way to the
  // socket.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  // The frame being written, staged by StageWrite.
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(write_mu_);
  Reading reading_ ABSL_GUARDED_BY(mu_) = Reading::kIdle;
  // A write is in flight.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Waits on the call's progress poll queue_.
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);

 private:
  void OnReadDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        reading_ = Reading::kClosed;
        waiters_.NotifyAll();
      }
      return OnReadClosed();
    }
    std::string problem;
    grpc::Slice slice;
    if (max_frame_bytes_ > 0 && in_.Length() > max_frame_bytes_) {
      problem = absl::StrCat("a frame of ", in_.Length(),
                             " bytes exceeds the limit of ", max_frame_bytes_);
    } else if (!in_.DumpToSingleSlice(&slice).ok()) {
      problem = "a frame could not be read";
    }
    in_.Clear();
    ContextCore* context = OnFrameRead(
        absl::string_view(reinterpret_cast<const char*>(slice.begin()),
                          slice.size()),
        problem);
    {
      absl::MutexLock lock(&mu_);
      waiters_.NotifyAll();
      if (reading_ != Reading::kReading) return;
      reading_ = Reading::kPaused;
      if (context == nullptr || !ReadsWantedLocked()) return;
    }
    if (context->ShouldRead()) ResumeReading();
  }

  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      waiters_.NotifyAll();
    }
    OnWriteCompleted(ok);
  }

  const size_t max_frame_bytes_;
  Stream* stream_ = nullptr;
  grpc::ByteBuffer in_;
  MemberEvent<FramePump> read_op_{this, &FramePump::OnReadDone};
  MemberEvent<FramePump> write_op_{this, &FramePump::OnWriteDone};
};

}  // namespace tether

#endif  // TETHER_RPC_FRAME_PUMP_H_
