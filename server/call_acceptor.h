// File: server/call_acceptor.h
//
// Serves tether.v1.Actor and grpc.health.v1.Health on gRPC's async API
// from the server's completion queue, drained by one thread of its own:
//   Actor/Context           each call that arrives is handed to a serving
//                           task (server/context_call.h), which polls the
//                           call's own queue from then on;
//   Actor/Cancel, Info,     answered on the draining thread
//   Signal, Health/Check    (server/unary_method.h);
//   Health/Watch            streamed from the draining thread
//                           (server/health_service.h).
// One call of each method is kept requested.
//
//   std::unique_ptr<grpc::ServerCompletionQueue> queue =
//       builder.AddCompletionQueue();
//   grpc::Server* server = builder.BuildAndStart();
//   CallAcceptor acceptor(&service, &health, &runtime, std::move(queue));
//   acceptor.Start();
//   ...
//   server->Shutdown();
//   acceptor.Stop();
//
// Every operation on an accepted call goes through the grpc::Server, so the
// server must outlive the calls: Stop() returns only once every serving
// task it started has ended, and the server may be destroyed after that.

#ifndef TETHER_SERVER_CALL_ACCEPTOR_H_
#define TETHER_SERVER_CALL_ACCEPTOR_H_

#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/completion_queue.h"
#include "runtime/actor_runtime.h"
#include "server/actor_service.h"
#include "server/health_service.h"
#include "server/unary_method.h"

namespace tether {

class ContextCall;

class CallAcceptor {
 public:
  // `service`, `health` and `runtime` must outlive the acceptor.
  CallAcceptor(ActorService* service, HealthService* health,
               ActorRuntime* runtime,
               std::unique_ptr<grpc::ServerCompletionQueue> queue);
  // REQUIRES: Stop() returned.
  ~CallAcceptor();

  CallAcceptor(const CallAcceptor&) = delete;
  CallAcceptor& operator=(const CallAcceptor&) = delete;

  // Requests the first call of each method and starts the draining thread.
  void Start();
  // After the server shut down (which fails the requests and cancels the
  // calls still open): ends the thread once the queue is drained, then
  // waits until every serving task has ended. A task that ignores its
  // cancellation delays this until it returns. Idempotent.
  void Stop();

 private:
  class ContextArrival;

  void Drain();
  void RequestContext();
  // Runs `request` unless Stop() began; false once it has. gRPC aborts the
  // process on a request to a queue that is shut down, and the server's
  // shutdown fails only the requests made before it, so a request and the
  // queue's shutdown must never race.
  bool Guarded(absl::FunctionRef<void()> request);
  // Hands an arrived call to a serving task, counted until the task ends or
  // the runtime drops it.
  void Serve(std::shared_ptr<ContextCall> call);

  ActorService* const service_;
  HealthService* const health_;
  ActorRuntime* const runtime_;
  const std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  UnaryMethod<v1::CancelActorRequest, v1::CancelActorResponse> cancel_;
  UnaryMethod<v1::InfoRequest, v1::ActorInfo> info_;
  UnaryMethod<v1::SignalRequest, v1::SignalResponse> signal_;
  UnaryMethod<HealthService::CheckRequest, HealthService::CheckResponse> check_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int serving_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tether

#endif  // TETHER_SERVER_CALL_ACCEPTOR_H_
