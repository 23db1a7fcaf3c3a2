#include "server/context_acceptor.h"

#include <utility>

#include "server/context_call.h"

namespace tether {

ContextAcceptor::ContextAcceptor(
    ActorService* service, ActorRuntime* runtime,
    std::unique_ptr<grpc::ServerCompletionQueue> new_calls)
    : service_(service), runtime_(runtime), new_calls_(std::move(new_calls)) {}

ContextAcceptor::~ContextAcceptor() { Stop(); }

void ContextAcceptor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ContextAcceptor::Run() {
  while (true) {
    auto call = std::make_shared<ContextCall>(runtime_, service_->signaller());
    if (!RequestNext(call.get())) return;
    void* tag = nullptr;
    bool ok = false;
    if (!new_calls_->Next(&tag, &ok) || !ok) return;
    Serve(std::move(call));
  }
}

void ContextAcceptor::Serve(std::shared_ptr<ContextCall> call) {
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

bool ContextAcceptor::RequestNext(ContextCall* call) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  call->Request(service_, new_calls_.get(), call);
  return true;
}

void ContextAcceptor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    new_calls_->Shutdown();
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* serving) { return *serving == 0; }, &serving_));
  }
  void* tag = nullptr;
  bool ok = false;
  while (new_calls_->Next(&tag, &ok)) {
  }
}

}  // namespace tether
