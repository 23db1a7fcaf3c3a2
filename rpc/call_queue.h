// File: rpc/call_queue.h
//
// A gRPC completion queue that tasks poll while they wait (TaskPoller,
// tether/task.h). The calls of the contexts a task serves or opened put
// their completions here, each tagged with the CallEvent that handles it,
// so a reply is handled by the thread that waits for it. Each event handled
// is noted as task activity (rpc/poll_standby.h).
//
//   auto queue = std::make_shared<CallQueue>();
//   SetTaskPoller(queue);                    // this task's waits poll it
//   stream->Read(&buffer, &read_event);      // read_event: a CallEvent
//   ... a wait of this task runs read_event.OnEvent(ok) ...
//
// Thread-safe as TaskPoller requires.

#ifndef TETHER_RPC_CALL_QUEUE_H_
#define TETHER_RPC_CALL_QUEUE_H_

#include <atomic>

#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "runtime/task/wait.h"
#include "tether/task.h"

namespace tether {

// What handles one operation's completion: the tag of an operation on a
// CallQueue. OnEvent runs on the polling thread; it must not block.
class CallEvent {
 public:
  virtual ~CallEvent() = default;
  virtual void OnEvent(bool ok) = 0;
};

// A CallEvent that calls `handler` on `owner`: one per kind of operation a
// call has outstanding.
template <typename Owner>
class MemberEvent final : public CallEvent {
 public:
  using Handler = void (Owner::*)(bool ok);
  MemberEvent(Owner* owner, Handler handler)
      : owner_(owner), handler_(handler) {}
  void OnEvent(bool ok) override { (owner_->*handler_)(ok); }

 private:
  Owner* const owner_;
  const Handler handler_;
};

class CallQueue final : public TaskPoller {
 public:
  CallQueue();
  // Shuts the queue down and handles what is left. REQUIRES: no operation
  // is outstanding, or its CallEvent is still alive.
  ~CallQueue() override;

  grpc::CompletionQueue* cq() { return &cq_; }

  // TaskPoller
  bool PollOnce(absl::Time deadline) override;
  void Kick() override;

 private:
  // The alarm that Kick() sets to fire at once.
  class KickEvent final : public CallEvent {
   public:
    explicit KickEvent(CallQueue* queue) : queue_(queue) {}
    void OnEvent(bool ok) override { queue_->kick_armed_.store(false); }

   private:
    CallQueue* const queue_;
  };

  grpc::CompletionQueue cq_;
  grpc::Alarm alarm_;
  KickEvent kick_event_{this};
  // The alarm is set and has not fired yet.
  std::atomic<bool> kick_armed_{false};
};

}  // namespace tether

#endif  // TETHER_RPC_CALL_QUEUE_H_
