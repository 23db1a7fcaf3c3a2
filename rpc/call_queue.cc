#include "rpc/call_queue.h"

#include "grpc/support/time.h"
#include "rpc/poll_standby.h"

namespace tether {

CallQueue::CallQueue() = default;

CallQueue::~CallQueue() {
  alarm_.Cancel();
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
    if (tag != nullptr) static_cast<CallEvent*>(tag)->OnEvent(ok);
  }
}

bool CallQueue::PollOnce(absl::Time deadline) {
  void* tag = nullptr;
  bool ok = false;
  gpr_timespec when = gpr_inf_future(GPR_CLOCK_REALTIME);
  if (deadline == absl::InfinitePast()) {
    when = gpr_inf_past(GPR_CLOCK_REALTIME);
  } else if (deadline != absl::InfiniteFuture()) {
    when = gpr_time_from_nanos(absl::ToUnixNanos(deadline), GPR_CLOCK_REALTIME);
  }
  if (cq_.AsyncNext(&tag, &ok, when) !=
      grpc::CompletionQueue::NextStatus::GOT_EVENT) {
    return false;
  }
  static_cast<CallEvent*>(tag)->OnEvent(ok);
  NoteTaskEvent();
  return true;
}

void CallQueue::Kick() {
  if (kick_armed_.exchange(true)) return;
  alarm_.Set(&cq_, gpr_time_0(GPR_CLOCK_REALTIME), &kick_event_);
}

}  // namespace tether
