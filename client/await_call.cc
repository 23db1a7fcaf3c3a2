#include "client/await_call.h"

#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/status_conversion.h"
#include "runtime/task.h"

namespace tether {
namespace {

// Shared with gRPC's callback, which may run after a cancelled wait.
struct CallState {
  absl::Mutex mu;
  WaitSet waiters;
  bool done ABSL_GUARDED_BY(mu) = false;
  grpc::Status status ABSL_GUARDED_BY(mu);
};

}  // namespace

absl::Status AwaitCall(
    grpc::ClientContext& context,
    absl::FunctionRef<void(std::function<void(grpc::Status)> done)> start) {
  auto state = std::make_shared<CallState>();
  start([state](grpc::Status status) {
    absl::MutexLock lock(&state->mu);
    state->status = std::move(status);
    state->done = true;
    state->waiters.NotifyAll();
  });
  absl::MutexLock lock(&state->mu);
  const absl::Status waited = AwaitLocked(
      state->mu, state->waiters, [&] { return state->done; },
      absl::InfiniteFuture());
  if (waited.ok()) return ToAbslStatus(state->status);
  // Cancelled: gRPC still owns the call's buffers until its callback runs.
  context.TryCancel();
  state->mu.Await(absl::Condition(&state->done));
  return waited;
}

}  // namespace tether
