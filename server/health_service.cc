#include "server/health_service.h"

#include <utility>

#include "rpc/call_queue.h"

namespace tether {

using ServingStatus = HealthService::CheckResponse::ServingStatus;

// One Watch call: arrives, writes the status whenever it differs from what
// it last wrote, and frees itself once gRPC is done with the call and no
// write is in flight.
class HealthService::Watch {
 public:
  explicit Watch(HealthService* service)
      : service_(service), live_(service->requester_) {
    context_.AsyncNotifyWhenDone(&done_);
  }

  bool Request() {
    grpc::ServerCompletionQueue* queue = service_->requester_->queue();
    return service_->requester_->Request([&] {
      service_->RequestWatch(&context_, &request_, &writer_, queue, queue,
                             &arrived_);
    });
  }

  // The lock that guards this watch: its service's.
  absl::Mutex& service_mu() const ABSL_LOCK_RETURNED(service_->mu_) {
    return service_->mu_;
  }

  // Writes the current status unless a write is in flight (its completion
  // catches up) or it was the last one written.
  void UpdateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(service_->mu_) {
    const ServingStatus status = service_->StatusOfLocked(request_.service());
    if (writing_ || over_ || (written_any_ && status == written_)) return;
    writing_ = true;
    written_any_ = true;
    written_ = status;
    response_.set_status(status);
    writer_.Write(response_, &wrote_);
  }

 private:
  void OnArrived(bool ok) {
    if (!ok) {  // The server shut down first: no call, so no other event.
      delete this;
      return;
    }
    service_->RequestNextWatch();
    const grpc::Status admitted = service_->requester_->Admit(context_);
    absl::MutexLock lock(&service_->mu_);
    if (!admitted.ok()) {
      // The finish's completion comes to OnWritten, which writes no more.
      over_ = true;
      writing_ = true;
      writer_.Finish(admitted, &wrote_);
      return;
    }
    service_->watches_.insert(this);
    UpdateLocked();
  }

  void OnWritten(bool ok) {
    {
      absl::MutexLock lock(&service_->mu_);
      writing_ = false;
      if (!ok) over_ = true;
      if (!done_called_) {
        UpdateLocked();
        return;
      }
    }
    delete this;
  }

  void OnDone(bool) {
    {
      absl::MutexLock lock(&service_->mu_);
      done_called_ = true;
      over_ = true;
      service_->watches_.erase(this);
      if (writing_) return;  // OnWritten frees it.
    }
    delete this;
  }

  HealthService* const service_;
  const CallRequester::LiveCall live_;
  grpc::ServerContext context_;
  CheckRequest request_;
  CheckResponse response_;
  grpc::ServerAsyncWriter<CheckResponse> writer_{&context_};
  MemberEvent<Watch> arrived_{this, &Watch::OnArrived};
  MemberEvent<Watch> wrote_{this, &Watch::OnWritten};
  MemberEvent<Watch> done_{this, &Watch::OnDone};
  bool writing_ ABSL_GUARDED_BY(service_->mu_) = false;
  bool written_any_ ABSL_GUARDED_BY(service_->mu_) = false;
  ServingStatus written_ ABSL_GUARDED_BY(service_->mu_) =
      CheckResponse::UNKNOWN;
  // No more writes: the call ended or a write failed.
  bool over_ ABSL_GUARDED_BY(service_->mu_) = false;
  bool done_called_ ABSL_GUARDED_BY(service_->mu_) = false;
};

HealthService::~HealthService() = default;

grpc::Status HealthService::HandleCheck(const CheckRequest& request,
                                        CheckResponse* response) {
  absl::MutexLock lock(&mu_);
  const ServingStatus status = StatusOfLocked(request.service());
  if (status == CheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "unknown service: \"" + request.service() + "\"");
  }
  response->set_status(status);
  return grpc::Status::OK;
}

void HealthService::StartServing(CallRequester* requester) {
  requester_ = requester;
  check_.Start(requester);
  RequestNextWatch();
}

void HealthService::RequestNextWatch() {
  auto* watch = new Watch(this);
  if (!watch->Request()) delete watch;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (!serving_) return;
  serving_ = false;
  for (Watch* watch : watches_) {
    // Every watch in watches_ is this service's: its lock is mu_.
    watch->service_mu().AssertHeld();
    watch->UpdateLocked();
  }
}

ServingStatus HealthService::StatusOfLocked(const std::string& service) const {
  if (!service.empty()) return CheckResponse::SERVICE_UNKNOWN;
  return serving_ ? CheckResponse::SERVING : CheckResponse::NOT_SERVING;
}

}  // namespace tether
