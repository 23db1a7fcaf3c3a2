// File: server/context_acceptor.h
//
// Accepts tether.v1.Actor/Context calls: a thread keeps one request for the
// next call outstanding on the server's completion queue and hands each
// call that arrives to a serving task (server/context_call.h).
//
// Every operation on an accepted call goes through the grpc::Server, so the
// server must outlive the calls: Stop() returns only once every serving
// task it started has ended, and the server may be destroyed after that.
//
//   std::unique_ptr<grpc::ServerCompletionQueue> new_calls =
//       builder.AddCompletionQueue();
//   grpc::Server* server = builder.BuildAndStart();
//   ContextAcceptor acceptor(&service, &runtime, std::move(new_calls));
//   acceptor.Start();
//   ...
//   server->Shutdown();
//   acceptor.Stop();

#ifndef TETHER_SERVER_CONTEXT_ACCEPTOR_H_
#define TETHER_SERVER_CONTEXT_ACCEPTOR_H_

#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/completion_queue.h"
#include "runtime/actor_runtime.h"
#include "server/actor_service.h"

namespace tether {

class ContextCall;

class ContextAcceptor {
 public:
  // `service` and `runtime` must outlive the acceptor.
  ContextAcceptor(ActorService* service, ActorRuntime* runtime,
                  std::unique_ptr<grpc::ServerCompletionQueue> new_calls);
  // REQUIRES: Stop() returned.
  ~ContextAcceptor();

  void Start();
  // After the server shut down (which cancels the calls still open): ends
  // the thread, waits until every serving task has ended, and drains the
  // queue. A task that ignores its cancellation delays this until it
  // returns. Idempotent.
  void Stop();

 private:
  void Run();
  // Requests the next call unless Stop() began; false once it has. gRPC
  // aborts the process on a request to a queue that is shut down, and the
  // server's shutdown fails only the requests made before it, so a request
  // and the queue's shutdown must never race.
  bool RequestNext(ContextCall* call);
  // Hands an arrived call to a serving task, counted until the task ends or
  // the runtime drops it.
  void Serve(std::shared_ptr<ContextCall> call);

  ActorService* const service_;
  ActorRuntime* const runtime_;
  std::unique_ptr<grpc::ServerCompletionQueue> new_calls_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int serving_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tether

#endif  // TETHER_SERVER_CONTEXT_ACCEPTOR_H_
