// File: rpc/await_call.h
//
// Waits for one unary call of gRPC's async API as a cancellation point of
// the calling task (see tether/task.h). The call runs on a completion
// queue of its own, which the waiting thread polls itself, so no gRPC
// thread stands by for it (docs/performance.md, "The standing pollers").
//
//   grpc::ClientContext context;
//   v1::FindResponse response;
//   absl::Status s = AwaitCall(context, &response, [&](auto* queue) {
//     return stub->AsyncFind(&context, request, queue);
//   });
//
// `start` begins the call on the given queue. If the calling task is
// cancelled first, the call is cancelled, AwaitCall waits for gRPC to
// finish with it (so the request, response and context may then be
// destroyed), and returns the cancel reason.

#ifndef TETHER_RPC_AWAIT_CALL_H_
#define TETHER_RPC_AWAIT_CALL_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/status.h"
#include "rpc/call_queue.h"
#include "runtime/task/wait.h"
#include "tether/task.h"

namespace tether {
namespace await_call_internal {

// The completion of the call's Finish.
class Finished final : public CallEvent {
 public:
  void OnEvent(bool ok) override;

  absl::Mutex mu;
  WaitSet waiters ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;
  grpc::Status status;  // written by gRPC before the event
};

// Polls `queue` until `finished` completes; the call's status, or the
// task's cancel reason (after cancelling the call and letting it end).
absl::Status Await(grpc::ClientContext& context,
                   const std::shared_ptr<CallQueue>& queue, Finished& finished);

}  // namespace await_call_internal

template <typename Response>
absl::Status AwaitCall(
    grpc::ClientContext& context, Response* response,
    absl::FunctionRef<
        std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>(
            grpc::CompletionQueue* queue)>
        start) {
  auto queue = std::make_shared<CallQueue>();
  await_call_internal::Finished finished;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader =
      start(queue->cq());
  reader->Finish(response, &finished.status, &finished);
  return await_call_internal::Await(context, queue, finished);
}

}  // namespace tether

#endif  // TETHER_RPC_AWAIT_CALL_H_
