#include "rpc/await_call.h"

#include "rpc/status_conversion.h"
#include "runtime/task/wait.h"

namespace tether {
namespace await_call_internal {

void Finished::OnEvent(bool) {
  absl::MutexLock lock(&mu);
  done = true;
  waiters.NotifyAll();
}

absl::Status Await(grpc::ClientContext& context,
                   const std::shared_ptr<CallQueue>& queue,
                   Finished& finished) {
  absl::MutexLock lock(&finished.mu);
  finished.waiters.SetPoller(queue);
  auto done = [&finished]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(finished.mu) {
    return finished.done;
  };
  const absl::Status waited =
      AwaitLocked(finished.mu, finished.waiters, done, absl::InfiniteFuture());
  if (waited.ok()) return ToAbslStatus(finished.status);
  // Cancelled: gRPC still owns the call's buffers until it finishes.
  context.TryCancel();
  AwaitLockedShielded(finished.mu, finished.waiters, done,
                      absl::InfiniteFuture());
  return waited;
}

}  // namespace await_call_internal
}  // namespace tether
