#include "server/call_acceptor.h"

#include <pthread.h>
#include <sys/prctl.h>

#include <utility>

#include "grpc/support/time.h"
#include "runtime/base/log.h"
#include "server/aside_schedule.h"
#include "server/context_call.h"

namespace tether {

// The arrival of a Context call.
class CallAcceptor::ContextArrival final : public CallEvent {
 public:
  ContextArrival(CallAcceptor* acceptor, std::shared_ptr<ContextCall> call)
      : acceptor_(acceptor), live_(acceptor), call_(std::move(call)) {}

  ContextCall* call() const { return call_.get(); }

  void OnEvent(bool ok) override {
    if (ok) {
      acceptor_->RequestContext();
      // No task, no thread and no read for a call without the token.
      const grpc::Status admitted = acceptor_->Admit(call_->server_context());
      if (admitted.ok()) {
        acceptor_->Serve(std::move(call_));
      } else {
        call_->Reject(admitted);
      }
    }
    delete this;
  }

 private:
  CallAcceptor* const acceptor_;
  const LiveCall live_;
  std::shared_ptr<ContextCall> call_;
};

CallAcceptor::CallAcceptor(ActorService* actor,
                           std::vector<ServedOnQueue*> services,
                           ActorCore* runtime,
                           std::unique_ptr<grpc::ServerCompletionQueue> queue,
                           TreeToken token)
    : actor_(actor),
      services_(std::move(services)),
      runtime_(runtime),
      queue_(std::move(queue)),
      token_(std::move(token)) {}

CallAcceptor::~CallAcceptor() { Stop(); }

void CallAcceptor::Start() {
  if (actor_ != nullptr) RequestContext();
  for (ServedOnQueue* service : services_) service->StartServing(this);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "tether-accept");
    // The timer of its looks while it stands aside fires on time, not up
    // to the default 50 us late.
    prctl(PR_SET_TIMERSLACK, 1UL);
    Drain();
  });
}

void CallAcceptor::Drain() {
  AsideSchedule schedule(TaskEventCount(), absl::Now());
  for (;;) {
    if (standing_) {
      int found = 0;
      if (!HandleNext(&found)) return;
      schedule.Looked(found, TaskEventCount(), absl::Now());
      continue;
    }
    int found = 0;
    if (!HandleReady(schedule.interval(), &found)) return;
    const absl::Time now = absl::Now();
    schedule.Looked(found, TaskEventCount(), now);
    absl::MutexLock lock(&mu_);
    standing_ = schedule.Quiet(now) || stopping_;
  }
}

bool CallAcceptor::HandleNext(int* found) {
  void* tag = nullptr;
  bool ok = false;
  {
    PollStandby::Standing standing(this);
    if (!queue_->Next(&tag, &ok)) return false;
  }
  Handle(tag, ok, found);
  return true;
}

bool CallAcceptor::HandleReady(absl::Duration interval, int* found) {
  {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval);
  }
  void* tag = nullptr;
  bool ok = false;
  for (;;) {
    switch (queue_->AsyncNext(&tag, &ok, gpr_inf_past(GPR_CLOCK_MONOTONIC))) {
      case grpc::CompletionQueue::NextStatus::SHUTDOWN:
        return false;
      case grpc::CompletionQueue::NextStatus::TIMEOUT:
        return true;
      case grpc::CompletionQueue::NextStatus::GOT_EVENT:
        Handle(tag, ok, found);
        break;
    }
  }
}

void CallAcceptor::Handle(void* tag, bool ok, int* found) {
  if (tag != &stepped_aside_) ++*found;
  static_cast<CallEvent*>(tag)->OnEvent(ok);
}

void CallAcceptor::StepAside() {
  absl::MutexLock lock(&mu_);
  // No alarm is set on a queue that is shut down, nor set twice.
  if (stopped_ || step_aside_armed_) return;
  step_aside_armed_ = true;
  step_aside_alarm_.Set(queue_.get(), gpr_time_0(GPR_CLOCK_REALTIME),
                        &stepped_aside_);
}

void CallAcceptor::OnSteppedAside(bool /*ok*/) {
  absl::MutexLock lock(&mu_);
  step_aside_armed_ = false;
  standing_ = stopping_;
}

void CallAcceptor::RequestContext() {
  auto* arrival = new ContextArrival(
      this, std::make_shared<ContextCall>(runtime_, actor_->signaller()));
  if (!Request(
          [&] { arrival->call()->Request(actor_, queue_.get(), arrival); })) {
    delete arrival;
  }
}

bool CallAcceptor::Request(absl::FunctionRef<void()> request) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  request();
  return true;
}

grpc::Status CallAcceptor::Admit(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  if (found != metadata.end() &&
      token_.Admits(
          absl::string_view(found->second.data(), found->second.size()))) {
    return grpc::Status::OK;
  }
  TETHER_LOG(kWarning) << "refused a call from " << context.peer() << ": "
                       << (found == metadata.end()
                               ? "it carries no token"
                               : "its token is not this tree's");
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "this actor's tree admits only calls carrying its "
                      "token (authorization: Bearer <token>; "
                      "docs/security.md)");
}

void CallAcceptor::CountLive(int delta) {
  absl::MutexLock lock(&mu_);
  live_ += delta;
}

void CallAcceptor::Serve(std::shared_ptr<ContextCall> call) {
  {
    absl::MutexLock lock(&mu_);
    ++serving_;
  }
  // Released when the task is done with the call, or when the runtime,
  // out of threads, drops the task unrun.
  std::shared_ptr<void> counted(nullptr, [this](void*) {
    absl::MutexLock lock(&mu_);
    --serving_;
  });
  runtime_->SpawnServingTask(
      [call = std::move(call), counted = std::move(counted)]() mutable {
        call->Serve();
        counted.reset();
      });
}

void CallAcceptor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopping_ = true;
    // Without a drain thread nothing ever arrived: no call object is live.
    if (thread_.joinable()) {
      mu_.Await(absl::Condition(
          +[](int* live) { return *live == 0; }, &live_));
    }
    stopped_ = true;
    queue_->Shutdown();
  }
  if (thread_.joinable()) {
    thread_.join();
  } else {
    Drain();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* serving) { return *serving == 0; }, &serving_));
}

}  // namespace tether
