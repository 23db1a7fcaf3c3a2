#include "server/registrar_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/address.h"
#include "runtime/log.h"
#include "runtime/status_conversion.h"

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

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context,
                                   const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// Wait: answers once an entry of the name exists, or ends with the call.
class WaitReactor final : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(RegistryStore* store, const std::string& name,
              v1::FindResponse* response)
      : store_(store) {
    watch_ = store_->Watch(name, [this, response](auto entries) {
      for (v1::RegistryEntry& entry : entries) {
        *response->add_entries() = std::move(entry);
      }
      Finish(grpc::Status::OK);
    });
  }

  // The client's deadline passed or it went away; a watcher that already
  // ran has finished the call.
  void OnCancel() override {
    if (store_->Unwatch(watch_)) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "wait ended"));
    }
  }

  void OnDone() override { delete this; }

 private:
  RegistryStore* const store_;
  uint64_t watch_ = 0;
};

}  // namespace

class RegistrarService::HoldReactor final
    : public grpc::ServerWriteReactor<v1::HoldResponse> {
 public:
  HoldReactor(RegistrarService* service, const v1::RegistryEntry& entry)
      : service_(service) {
    const grpc::Status valid = CheckEntry(entry);
    if (!valid.ok()) {
      Refuse(valid);
      return;
    }
    // Registered before tracking, so Close() always finds an entry to
    // remove; a refused hold takes its entry back at once.
    absl::StatusOr<v1::RegistryEntry> stored = service_->store_.Put(entry);
    if (!stored.ok()) {
      Refuse(ToGrpcStatus(stored.status()));
      return;
    }
    stored_ = *std::move(stored);
    if (!service_->Track(this)) {
      service_->store_.RemoveIfUnchanged(stored_);
      Refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the registrar is closing"));
      return;
    }
    tracked_ = true;
    TETHER_LOG(kInfo) << "registered " << Describe(stored_) << " at "
                      << stored_.actor().addresses(0);
    *response_.mutable_entry() = stored_;
    StartWrite(&response_);
  }

  // The entry stays until the call ends.
  void OnWriteDone(bool ok) override {}

  void OnCancel() override {
    if (service_->Claim(this)) End(grpc::Status::CANCELLED, "hold ended");
  }

  void OnDone() override {
    if (tracked_) service_->Untrack(this);
    delete this;
  }

  // Removes the entry and finishes the call. Called once, by whoever
  // claimed the hold.
  void End(const grpc::Status& status, const char* reason) {
    if (service_->store_.RemoveIfUnchanged(stored_)) {
      TETHER_LOG(kInfo) << "unregistered " << Describe(stored_) << ": "
                        << reason;
    }
    Finish(status);
  }

  bool claimed = false;  // guarded by the service's mu_

 private:
  // Ends a hold that never held. Claimed first: the client's cancel may
  // race with the refusal, and its OnCancel must not end the call again.
  void Refuse(const grpc::Status& status) {
    if (service_->Claim(this)) Finish(status);
  }

  RegistrarService* const service_;
  v1::RegistryEntry stored_;
  v1::HoldResponse response_;
  bool tracked_ = false;
};

RegistrarService::~RegistrarService() {
  absl::MutexLock lock(&mu_);
  if (!holds_.empty()) {
    TETHER_LOG(kError) << "registrar destroyed with " << holds_.size()
                       << " open holds; Close() was not called";
  }
}

bool RegistrarService::Track(HoldReactor* hold) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  holds_.insert(hold);
  return true;
}

void RegistrarService::Untrack(HoldReactor* hold) {
  absl::MutexLock lock(&mu_);
  holds_.erase(hold);
}

bool RegistrarService::Claim(HoldReactor* hold) {
  absl::MutexLock lock(&mu_);
  if (hold->claimed) return false;
  hold->claimed = true;
  return true;
}

void RegistrarService::Close() {
  std::vector<HoldReactor*> unclaimed;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (HoldReactor* hold : holds_) {
      if (!hold->claimed) {
        hold->claimed = true;
        unclaimed.push_back(hold);
      }
    }
  }
  // A claimed hold cannot finish (or be deleted) until End runs.
  for (HoldReactor* hold : unclaimed) {
    hold->End(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the registrar is closing"),
        "the registrar is closing");
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::set<HoldReactor*>* holds) { return holds->empty(); }, &holds_));
}

grpc::ServerUnaryReactor* RegistrarService::Register(
    grpc::CallbackServerContext* context, const v1::RegisterRequest* request,
    v1::RegisterResponse* response) {
  const grpc::Status valid = CheckEntry(request->entry());
  if (!valid.ok()) return Finished(context, valid);
  const absl::StatusOr<v1::RegistryEntry> stored = store_.Put(request->entry());
  if (!stored.ok()) return Finished(context, ToGrpcStatus(stored.status()));
  TETHER_LOG(kInfo) << "registered " << Describe(*stored) << " at "
                    << stored->actor().addresses(0);
  return Finished(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::HoldResponse>* RegistrarService::Hold(
    grpc::CallbackServerContext* context, const v1::RegisterRequest* request) {
  return new HoldReactor(this, request->entry());
}

grpc::ServerUnaryReactor* RegistrarService::Unregister(
    grpc::CallbackServerContext* context, const v1::UnregisterRequest* request,
    v1::UnregisterResponse* response) {
  if (request->uuid().empty()) {
    return Finished(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          "Unregister needs a uuid"));
  }
  const bool removed = store_.Remove(request->uuid());
  response->set_removed(removed);
  if (removed) {
    TETHER_LOG(kInfo) << "unregistered [" << request->uuid() << "]: "
                      << (request->reason().empty() ? "no reason given"
                                                    : request->reason());
  }
  return Finished(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* RegistrarService::Find(
    grpc::CallbackServerContext* context, const v1::FindRequest* request,
    v1::FindResponse* response) {
  for (v1::RegistryEntry& entry : store_.Find(request->name())) {
    *response->add_entries() = std::move(entry);
  }
  return Finished(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* RegistrarService::Wait(
    grpc::CallbackServerContext* context, const v1::WaitRequest* request,
    v1::FindResponse* response) {
  if (request->name().empty()) {
    return Finished(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          "Wait needs a name"));
  }
  return new WaitReactor(&store_, request->name(), response);
}

grpc::ServerUnaryReactor* RegistrarService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  for (v1::RegistryEntry& entry : store_.List()) {
    *response->add_entries() = std::move(entry);
  }
  return Finished(context, grpc::Status::OK);
}

}  // namespace tether
