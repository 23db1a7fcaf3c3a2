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
    call->Request(service_, new_calls_.get(), call.get());
    void* tag = nullptr;
    bool ok = false;
    if (!new_calls_->Next(&tag, &ok) || !ok) return;
    runtime_->SpawnServingTask([call] { call->Serve(); });
  }
}

void ContextAcceptor::Stop() {
  if (stopped_) return;
  stopped_ = true;
  new_calls_->Shutdown();
  if (thread_.joinable()) thread_.join();
  void* tag = nullptr;
  bool ok = false;
  while (new_calls_->Next(&tag, &ok)) {
  }
}

}  // namespace tether
