// File: server/call_acceptor.h
//
// Serves an actor's gRPC server on the async API from the server's one
// completion queue, drained by a thread of its own. Actor/Context calls are
// handed to serving tasks (server/context_call.h), which poll each call's
// own queue from then on; every other method belongs to a ServedOnQueue
// service (server/served_on_queue.h) and is handled on the draining thread.
//
// The draining thread is a PollStandby (rpc/poll_standby.h): it blocks
// on the queue, and so keeps gRPC's I/O going, only while the process's
// tasks are quiet. While they handle events it steps aside and looks at the
// queue at the intervals of an AsideSchedule (server/aside_schedule.h): a
// call that arrives meanwhile waits up to 25 us to be accepted while calls
// keep coming, longer after a pause (a sixteenth of it, up to 1 ms).
//
//   std::unique_ptr<grpc::ServerCompletionQueue> queue =
//       builder.AddCompletionQueue();
//   grpc::Server* server = builder.BuildAndStart();
//   CallAcceptor acceptor(&actor_service, {&actor_service, &health},
//                         &runtime, std::move(queue));
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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "rpc/call_queue.h"
#include "rpc/poll_standby.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/tree_token.h"
#include "server/actor_service.h"
#include "server/served_on_queue.h"

namespace tether {

class ContextCall;

class CallAcceptor final : public CallRequester, public PollStandby {
 public:
  // `actor` (whose Context calls the acceptor serves; null for a server
  // without the Actor service), `services` and `runtime` (null with
  // `actor`) must outlive the acceptor. Calls are admitted only with
  // `token`, the tree's (CallRequester::Admit).
  CallAcceptor(ActorService* actor, std::vector<ServedOnQueue*> services,
               ActorCore* runtime,
               std::unique_ptr<grpc::ServerCompletionQueue> queue,
               TreeToken token);
  // REQUIRES: Stop() returned.
  ~CallAcceptor() override;

  CallAcceptor(const CallAcceptor&) = delete;
  CallAcceptor& operator=(const CallAcceptor&) = delete;

  // Requests the first call of each method and starts the draining thread.
  void Start();
  // After the server shut down (which fails the requests and cancels the
  // calls still open): drains the queue until every call object on it is
  // gone, then shuts it down and ends the thread, then waits until every
  // serving task has ended. A task that ignores its cancellation delays
  // this until it returns. Idempotent.
  void Stop();

  // CallRequester
  grpc::ServerCompletionQueue* queue() override { return queue_.get(); }
  bool Request(absl::FunctionRef<void()> request) override;
  grpc::Status Admit(const grpc::ServerContext& context) override;

  // PollStandby
  void StepAside() override;

 private:
  class ContextArrival;

  void CountLive(int delta) override;

  void Drain();
  // Blocks for one event and handles it, counted in *found unless it is
  // the alarm that steps the thread aside; false once the queue is shut
  // down.
  bool HandleNext(int* found);
  // Waits `interval` (less once Stop() began), then handles every event
  // ready, counted as by HandleNext; false once the queue is shut down.
  bool HandleReady(absl::Duration interval, int* found);
  // Handles one event of the queue; counts it in *found unless it is the
  // step-aside alarm, which tells of busy tasks, not of calls.
  void Handle(void* tag, bool ok, int* found);
  void OnSteppedAside(bool ok);
  void RequestContext();
  // Hands an arrived call to a serving task, counted until the task ends or
  // the runtime drops it.
  void Serve(std::shared_ptr<ContextCall> call);

  ActorService* const actor_;
  const std::vector<ServedOnQueue*> services_;
  ActorCore* const runtime_;
  const std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  const TreeToken token_;
  std::thread thread_;
  // Wakes the draining thread out of HandleNext() when tasks get busy.
  grpc::Alarm step_aside_alarm_;
  MemberEvent<CallAcceptor> stepped_aside_{this, &CallAcceptor::OnSteppedAside};
  // Draining thread only: it blocks on the queue (HandleNext) rather than
  // look at it at intervals (HandleReady).
  bool standing_ = true;
  absl::Mutex mu_;
  bool step_aside_armed_ ABSL_GUARDED_BY(mu_) = false;
  // Stop() began: the draining thread blocks on the queue from now on.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Call objects with an operation on queue_ (CallRequester::LiveCall).
  int live_ ABSL_GUARDED_BY(mu_) = 0;
  int serving_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tether

#endif  // TETHER_SERVER_CALL_ACCEPTOR_H_
