// File: server/served_on_queue.h
//
// Services whose calls arrive on, and complete on, the one completion queue
// a server's CallAcceptor drains (server/call_acceptor.h). No service of an
// actor uses gRPC's callback API: its threads would wait in the epoll set
// and take replies away from the tasks that wait for them
// (docs/performance.md, "The standing pollers").
//
//   class Greeter final : public Greeter::WithAsyncMethod_Hello<...>,
//                         public ServedOnQueue {
//     void StartServing(CallRequester* requester) override {
//       hello_.Start(requester);       // a UnaryMethod (unary_method.h)
//     }
//   };
//   CallAcceptor acceptor(&actor_service, {&greeter}, &runtime, queue);

#ifndef TETHER_SERVER_SERVED_ON_QUEUE_H_
#define TETHER_SERVER_SERVED_ON_QUEUE_H_

#include "absl/functional/function_ref.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace tether {

// What a service asks for its next call through. Thread-safe.
class CallRequester {
 public:
  // Held by every object with an operation on the queue, from its creation
  // to its deletion: the queue is shut down only once none is left, since
  // gRPC aborts on an operation started on a queue that is shut down.
  class LiveCall {
   public:
    explicit LiveCall(CallRequester* requester) : requester_(requester) {
      requester_->CountLive(+1);
    }
    ~LiveCall() { requester_->CountLive(-1); }
    LiveCall(const LiveCall&) = delete;
    LiveCall& operator=(const LiveCall&) = delete;

   private:
    CallRequester* const requester_;
  };

  virtual ~CallRequester() = default;

  // Where every call of the server is announced and completes. Each tag
  // given to gRPC on it must be a CallEvent (rpc/call_queue.h).
  virtual grpc::ServerCompletionQueue* queue() = 0;

  // Runs `request`, which asks gRPC for a call, unless the server is
  // stopping; false then (and the call object is the caller's to free).
  virtual bool Request(absl::FunctionRef<void()> request) = 0;

  // OK when the call of `context` carries the tree's token (its
  // `authorization` metadata); otherwise the UNAUTHENTICATED status to end
  // it with, at once: nothing of the call may run. A refusal is logged with
  // the caller's address.
  virtual grpc::Status Admit(const grpc::ServerContext& context) = 0;

 private:
  virtual void CountLive(int delta) = 0;
};

class ServedOnQueue {
 public:
  virtual ~ServedOnQueue() = default;

  // Keeps one call of each method requested through `requester` from now
  // on. Handlers run on the draining thread and must not block.
  virtual void StartServing(CallRequester* requester) = 0;
};

}  // namespace tether

#endif  // TETHER_SERVER_SERVED_ON_QUEUE_H_
