#include "server/call_acceptor.h"

#include <utility>

#include "server/context_call.h"

namespace tether {

// The arrival of a Context call.
class CallAcceptor::ContextArrival final : public CallEvent {
 public:
  ContextArrival(CallAcceptor* acceptor, std::shared_ptr<ContextCall> call)
      : acceptor_(acceptor), call_(std::move(call)) {}

  ContextCall* call() const { return call_.get(); }

  void OnEvent(bool ok) override {
    if (ok) {
      acceptor_->RequestContext();
      acceptor_->Serve(std::move(call_));
    }
    delete this;
  }

 private:
  CallAcceptor* const acceptor_;
  std::shared_ptr<ContextCall> call_;
};

CallAcceptor::CallAcceptor(ActorService* service, HealthService* health,
                           ActorRuntime* runtime,
                           std::unique_ptr<grpc::ServerCompletionQueue> queue)
    : service_(service),
      health_(health),
      runtime_(runtime),
      queue_(std::move(queue)),
      cancel_(
          [this](grpc::ServerContext* context, v1::CancelActorRequest* request,
                 grpc::ServerAsyncResponseWriter<v1::CancelActorResponse>*
                     responder,
                 void* tag) {
            return Guarded([&] {
              service_->RequestCancel(context, request, responder, queue_.get(),
                                      queue_.get(), tag);
            });
          },
          [this](const v1::CancelActorRequest& request,
                 v1::CancelActorResponse* response) {
            return service_->HandleCancel(request, response);
          },
          [this](const v1::CancelActorRequest& request) {
            service_->OnCancelAnswered(request);
          }),
      info_(
          [this](grpc::ServerContext* context, v1::InfoRequest* request,
                 grpc::ServerAsyncResponseWriter<v1::ActorInfo>* responder,
                 void* tag) {
            return Guarded([&] {
              service_->RequestInfo(context, request, responder, queue_.get(),
                                    queue_.get(), tag);
            });
          },
          [this](const v1::InfoRequest& request, v1::ActorInfo* response) {
            return service_->HandleInfo(request, response);
          }),
      signal_(
          [this](grpc::ServerContext* context, v1::SignalRequest* request,
                 grpc::ServerAsyncResponseWriter<v1::SignalResponse>* responder,
                 void* tag) {
            return Guarded([&] {
              service_->RequestSignal(context, request, responder, queue_.get(),
                                      queue_.get(), tag);
            });
          },
          [this](const v1::SignalRequest& request,
                 v1::SignalResponse* response) {
            return service_->HandleSignal(request, response);
          }),
      check_(
          [this](grpc::ServerContext* context,
                 HealthService::CheckRequest* request,
                 grpc::ServerAsyncResponseWriter<HealthService::CheckResponse>*
                     responder,
                 void* tag) {
            return Guarded([&] {
              health_->RequestCheck(context, request, responder, queue_.get(),
                                    queue_.get(), tag);
            });
          },
          [this](const HealthService::CheckRequest& request,
                 HealthService::CheckResponse* response) {
            return health_->HandleCheck(request, response);
          }) {}

CallAcceptor::~CallAcceptor() { Stop(); }

void CallAcceptor::Start() {
  RequestContext();
  cancel_.RequestNext();
  info_.RequestNext();
  signal_.RequestNext();
  check_.RequestNext();
  health_->ServeWatches([this](grpc::ServerContext* context,
                               HealthService::CheckRequest* request,
                               HealthService::WatchWriter* writer, void* tag) {
    return Guarded([&] {
      health_->RequestWatch(context, request, writer, queue_.get(),
                            queue_.get(), tag);
    });
  });
  thread_ = std::thread([this] { Drain(); });
}

void CallAcceptor::Drain() {
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) static_cast<CallEvent*>(tag)->OnEvent(ok);
}

void CallAcceptor::RequestContext() {
  auto* arrival = new ContextArrival(
      this, std::make_shared<ContextCall>(runtime_, service_->signaller()));
  if (!Guarded(
          [&] { arrival->call()->Request(service_, queue_.get(), arrival); })) {
    delete arrival;
  }
}

bool CallAcceptor::Guarded(absl::FunctionRef<void()> request) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  request();
  return true;
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
