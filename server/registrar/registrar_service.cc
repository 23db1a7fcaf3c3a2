#include "server/registrar/registrar_service.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"
#include "rpc/call_queue.h"
#include "rpc/status_conversion.h"
#include "runtime/base/log.h"
#include "tether/address.h"

namespace tether {
namespace {

std::string Describe(const v1::RegistryEntry& entry) {
  return absl::StrCat(entry.actor().id().name(), "[", entry.actor().id().uuid(),
                      "]");
}

// The largest registry entry accepted, serialized: room for a name, a
// uuid and a few addresses, not for a peer's megabytes.
constexpr size_t kMaxEntryBytes = 4 << 10;

grpc::Status CheckEntry(const v1::RegistryEntry& entry) {
  const size_t bytes = entry.ByteSizeLong();
  if (bytes > kMaxEntryBytes) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("a registry entry of ", bytes,
                     " bytes exceeds the limit of ", kMaxEntryBytes));
  }
  const v1::ActorId& id = entry.actor().id();
  if (id.name().empty() || id.uuid().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a registry entry needs actor.id.name and "
                        "actor.id.uuid");
  }
  if (entry.actor().addresses().empty()) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("registry entry ", Describe(entry), " has no address"));
  }
  for (const std::string& address : entry.actor().addresses()) {
    absl::StatusOr<Address> parsed = Address::Parse(address);
    if (!parsed.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("registry entry ", Describe(entry), ": ",
                                       parsed.status().message()));
    }
  }
  return grpc::Status::OK;
}

}  // namespace

// One Hold: registers the entry when the call arrives, writes it back, and
// keeps it until the call ends or Close() ends the hold. Frees itself once
// gRPC is done with the call and whoever ended the hold is done with it.
class RegistrarService::HoldCall {
 public:
  explicit HoldCall(RegistrarService* service)
      : service_(service), live_(service->requester_) {
    context_.AsyncNotifyWhenDone(&done_event_);
  }

  bool Request() {
    grpc::ServerCompletionQueue* queue = service_->requester_->queue();
    return service_->requester_->Request([&] {
      service_->RequestHold(&context_, &request_, &writer_, queue, queue,
                            &arrived_);
    });
  }

  // The lock that guards this hold: its service's.
  absl::Mutex& service_mu() const ABSL_LOCK_RETURNED(service_->mu_) {
    return service_->mu_;
  }

  // Claims the hold for whoever ends it; false if it already was.
  bool ClaimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(service_->mu_) {
    return !std::exchange(claimed_, true);
  }

  // Removes the entry and finishes the call with `status`. Called once, by
  // whoever claimed the hold.
  void End(const grpc::Status& status, const char* reason) {
    RemoveEntry(reason);
    bool free;
    {
      absl::MutexLock lock(&service_->mu_);
      FinishLocked(status);
      ended_ = true;
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

 private:
  void OnArrived(bool ok) {
    if (!ok) {  // The server shut down first: no call, so no other event.
      delete this;
      return;
    }
    service_->RequestNextHold();
    grpc::Status refusal = service_->requester_->Admit(context_);
    if (refusal.ok()) refusal = CheckEntry(request_.entry());
    if (refusal.ok()) {
      // Registered before tracking, so Close() always finds an entry to
      // remove; a refused hold takes its entry back at once.
      absl::StatusOr<v1::RegistryEntry> stored =
          service_->store_.Put(request_.entry());
      if (stored.ok()) {
        stored_ = *std::move(stored);
      } else {
        refusal = ToGrpcStatus(stored.status());
      }
    }
    if (refusal.ok()) {
      absl::MutexLock lock(&service_->mu_);
      if (service_->closed_) {
        refusal = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the registrar is closing");
      } else {
        service_->holds_.insert(this);
        tracked_ = true;
      }
    }
    if (!refusal.ok()) {
      if (!stored_.actor().id().uuid().empty()) {
        service_->store_.RemoveIfUnchanged(stored_);
      }
      absl::MutexLock lock(&service_->mu_);
      claimed_ = true;
      FinishLocked(refusal);
      ended_ = true;
      return;
    }
    TETHER_LOG(kInfo) << "registered " << Describe(stored_) << " at "
                      << stored_.actor().addresses(0);
    *response_.mutable_entry() = stored_;
    absl::MutexLock lock(&service_->mu_);
    if (claimed_) return;  // Close() came first; End finishes the call.
    writing_ = true;
    writer_.Write(response_, &wrote_);
  }

  // The entry stays until the call ends.
  void OnWritten(bool) {
    bool free;
    {
      absl::MutexLock lock(&service_->mu_);
      writing_ = false;
      if (pending_finish_.has_value()) {
        StartFinishLocked(*std::exchange(pending_finish_, std::nullopt));
      }
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

  void OnFinished(bool) {
    bool free;
    {
      absl::MutexLock lock(&service_->mu_);
      finishing_ = false;
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

  // The call ended: finished, or cancelled by the client (which ends the
  // hold unless something else already did).
  void OnDone(bool) {
    bool end;
    {
      absl::MutexLock lock(&service_->mu_);
      done_ = true;
      if (tracked_) service_->holds_.erase(this);
      tracked_ = false;
      end = ClaimLocked();
    }
    if (end) RemoveEntry("hold ended");
    bool free;
    {
      absl::MutexLock lock(&service_->mu_);
      if (end) ended_ = true;
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

  void RemoveEntry(const char* reason) {
    if (service_->store_.RemoveIfUnchanged(stored_)) {
      TETHER_LOG(kInfo) << "unregistered " << Describe(stored_) << ": "
                        << reason;
    }
  }

  // Finishes the call, after the write in flight if there is one; nothing
  // once the call is done.
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(service_->mu_) {
    if (done_) return;
    if (writing_) {
      pending_finish_ = status;
    } else {
      StartFinishLocked(status);
    }
  }

  void StartFinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(service_->mu_) {
    finishing_ = true;
    writer_.Finish(status, &finished_);
  }

  // True once, for the caller that must free the hold: gRPC is done with
  // the call, nothing is in flight, and whoever ended the hold is done.
  // OnDone and Close()'s End may both see that last state.
  bool TakeFreeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(service_->mu_) {
    if (freed_ || !done_ || writing_ || finishing_ || !ended_) return false;
    freed_ = true;
    return true;
  }

  RegistrarService* const service_;
  const CallRequester::LiveCall live_;
  grpc::ServerContext context_;
  v1::RegisterRequest request_;
  v1::HoldResponse response_;
  grpc::ServerAsyncWriter<v1::HoldResponse> writer_{&context_};
  MemberEvent<HoldCall> arrived_{this, &HoldCall::OnArrived};
  MemberEvent<HoldCall> wrote_{this, &HoldCall::OnWritten};
  MemberEvent<HoldCall> finished_{this, &HoldCall::OnFinished};
  MemberEvent<HoldCall> done_event_{this, &HoldCall::OnDone};
  // Written by OnArrived before the hold is tracked, read-only after.
  v1::RegistryEntry stored_;
  bool tracked_ ABSL_GUARDED_BY(service_->mu_) = false;
  bool claimed_ ABSL_GUARDED_BY(service_->mu_) = false;
  // The claimer is done with the hold.
  bool ended_ ABSL_GUARDED_BY(service_->mu_) = false;
  bool writing_ ABSL_GUARDED_BY(service_->mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(service_->mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(service_->mu_);
  bool done_ ABSL_GUARDED_BY(service_->mu_) = false;
  bool freed_ ABSL_GUARDED_BY(service_->mu_) = false;
};

// One Wait: answers once an entry of the name exists (the store's watcher
// may run on any thread), or ends with the call. Frees itself once gRPC is
// done with the call and the watcher can no longer run.
class RegistrarService::WaitCall {
 public:
  explicit WaitCall(RegistrarService* service)
      : service_(service), live_(service->requester_) {
    context_.AsyncNotifyWhenDone(&done_event_);
  }

  bool Request() {
    grpc::ServerCompletionQueue* queue = service_->requester_->queue();
    return service_->requester_->Request([&] {
      service_->RequestWait(&context_, &request_, &responder_, queue, queue,
                            &arrived_);
    });
  }

 private:
  void OnArrived(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    service_->RequestNextWait();
    grpc::Status refusal = service_->requester_->Admit(context_);
    if (refusal.ok() && request_.name().empty()) {
      refusal =
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Wait needs a name");
    }
    if (!refusal.ok()) {
      absl::MutexLock lock(&mu_);
      answered_ = true;
      finishing_ = true;
      responder_.FinishWithError(refusal, &finished_);
      return;
    }
    watching_ = true;
    watch_ = service_->store_.Watch(
        request_.name(),
        [this](std::vector<v1::RegistryEntry> entries) { Answer(entries); });
  }

  void Answer(std::vector<v1::RegistryEntry>& entries) {
    bool free;
    {
      absl::MutexLock lock(&mu_);
      answered_ = true;
      if (!done_) {
        for (v1::RegistryEntry& entry : entries) {
          *response_.add_entries() = std::move(entry);
        }
        finishing_ = true;
        responder_.Finish(response_, grpc::Status::OK, &finished_);
      }
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

  void OnFinished(bool) {
    bool free;
    {
      absl::MutexLock lock(&mu_);
      finishing_ = false;
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

  // The call ended: answered, or the client's deadline passed or it went
  // away, and then the watcher must not run.
  void OnDone(bool) {
    const bool unwatched = watching_ && service_->store_.Unwatch(watch_);
    bool free;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      if (unwatched) answered_ = true;
      free = TakeFreeLocked();
    }
    if (free) delete this;
  }

  // True once, for the caller that must free the wait: gRPC is done with
  // the call, and the watcher ran or never will.
  bool TakeFreeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (freed_ || !done_ || !answered_ || finishing_) return false;
    freed_ = true;
    return true;
  }

  RegistrarService* const service_;
  const CallRequester::LiveCall live_;
  grpc::ServerContext context_;
  v1::WaitRequest request_;
  v1::FindResponse response_;
  grpc::ServerAsyncResponseWriter<v1::FindResponse> responder_{&context_};
  MemberEvent<WaitCall> arrived_{this, &WaitCall::OnArrived};
  MemberEvent<WaitCall> finished_{this, &WaitCall::OnFinished};
  MemberEvent<WaitCall> done_event_{this, &WaitCall::OnDone};
  // Set by OnArrived; read by OnDone, which the same thread runs later.
  bool watching_ = false;
  uint64_t watch_ = 0;
  absl::Mutex mu_;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool freed_ ABSL_GUARDED_BY(mu_) = false;
};

RegistrarService::~RegistrarService() {
  absl::MutexLock lock(&mu_);
  if (!holds_.empty()) {
    TETHER_LOG(kError) << "registrar destroyed with " << holds_.size()
                       << " open holds; Close() was not called";
  }
}

void RegistrarService::StartServing(CallRequester* requester) {
  requester_ = requester;
  register_.Start(requester);
  unregister_.Start(requester);
  find_.Start(requester);
  list_.Start(requester);
  RequestNextHold();
  RequestNextWait();
}

void RegistrarService::RequestNextHold() {
  auto* hold = new HoldCall(this);
  if (!hold->Request()) delete hold;
}

void RegistrarService::RequestNextWait() {
  auto* wait = new WaitCall(this);
  if (!wait->Request()) delete wait;
}

void RegistrarService::Close() {
  std::vector<HoldCall*> unclaimed;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (HoldCall* hold : holds_) {
      // Every hold in holds_ is this service's: its lock is mu_.
      hold->service_mu().AssertHeld();
      if (hold->ClaimLocked()) unclaimed.push_back(hold);
    }
  }
  // A claimed hold is not freed until its End has run.
  for (HoldCall* hold : unclaimed) {
    hold->End(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the registrar is closing"),
        "the registrar is closing");
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::set<HoldCall*>* holds) { return holds->empty(); }, &holds_));
}

grpc::Status RegistrarService::HandleRegister(
    const v1::RegisterRequest& request, v1::RegisterResponse* response) {
  const grpc::Status valid = CheckEntry(request.entry());
  if (!valid.ok()) return valid;
  const absl::StatusOr<v1::RegistryEntry> stored = store_.Put(request.entry());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  TETHER_LOG(kInfo) << "registered " << Describe(*stored) << " at "
                    << stored->actor().addresses(0);
  return grpc::Status::OK;
}

grpc::Status RegistrarService::HandleUnregister(
    const v1::UnregisterRequest& request, v1::UnregisterResponse* response) {
  if (request.uuid().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "Unregister needs a uuid");
  }
  const bool removed = store_.Remove(request.uuid());
  response->set_removed(removed);
  if (removed) {
    TETHER_LOG(kInfo) << "unregistered [" << request.uuid() << "]: "
                      << (request.reason().empty() ? "no reason given"
                                                   : request.reason());
  }
  return grpc::Status::OK;
}

grpc::Status RegistrarService::HandleFind(const v1::FindRequest& request,
                                          v1::FindResponse* response) {
  for (v1::RegistryEntry& entry : store_.Find(request.name())) {
    *response->add_entries() = std::move(entry);
  }
  return grpc::Status::OK;
}

grpc::Status RegistrarService::HandleList(const v1::ListRequest& request,
                                          v1::ListResponse* response) {
  for (v1::RegistryEntry& entry : store_.List()) {
    *response->add_entries() = std::move(entry);
  }
  return grpc::Status::OK;
}

}  // namespace tether
