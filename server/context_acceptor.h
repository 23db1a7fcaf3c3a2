// File: server/context_acceptor.h
//
// Accepts tether.v1.Actor/Context calls: a thread keeps one request for the
// next call outstanding on the server's completion queue and hands each
// call that arrives to a serving task (server/context_call.h).
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

#include "grpcpp/completion_queue.h"
#include "runtime/actor_runtime.h"
#include "server/actor_service.h"

namespace tether {

class ContextAcceptor {
 public:
  // `service` and `runtime` must outlive the acceptor.
  ContextAcceptor(ActorService* service, ActorRuntime* runtime,
                  std::unique_ptr<grpc::ServerCompletionQueue> new_calls);
  // REQUIRES: Stop() returned.
  ~ContextAcceptor();

  void Start();
  // After the server shut down: ends the thread and drains the queue.
  // Idempotent.
  void Stop();

 private:
  void Run();

  ActorService* const service_;
  ActorRuntime* const runtime_;
  std::unique_ptr<grpc::ServerCompletionQueue> new_calls_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace tether

#endif  // TETHER_SERVER_CONTEXT_ACCEPTOR_H_
