#include "client/registry/registrar_client.h"

#include <functional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rpc/await_call.h"
#include "rpc/call_queue.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"
#include "runtime/base/log.h"
#include "runtime/task/wait.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/registrar.grpc.pb.h"

namespace tether {
namespace {

// Prefixes an error with the registry it came from.
absl::Status Annotate(const absl::Status& status, const std::string& address,
                      absl::string_view what) {
  if (status.ok()) return status;
  return absl::Status(
      status.code(),
      absl::StrCat("registry ", address, ": ", what, ": ", status.message()));
}

// One Registrar/Hold call: confirmed by its first response, open until it
// is released (or the registrar ends it). It runs on a completion queue of
// its own, polled only by whoever waits on it (AwaitConfirmed, Release):
// no thread stands by for a call that is open for the actor's lifetime. So
// a registrar that ends the hold first is noticed, and logged, only at
// release.
class HoldCall {
 public:
  explicit HoldCall(std::string registry) : registry_(std::move(registry)) {
    absl::MutexLock lock(&mu_);
    waiters_.SetPoller(queue_);
  }

  // No gRPC deadline: it would end the hold itself. AwaitConfirmed bounds
  // the wait for the confirmation instead.
  void Start(v1::Registrar::Stub* stub, const v1::RegistryEntry& entry) {
    *request_.mutable_entry() = entry;
    reader_ = stub->PrepareAsyncHold(&context_, request_, queue_->cq());
    absl::MutexLock lock(&mu_);
    starting_ = true;
    reader_->StartCall(&started_);
    reading_ = true;
    reader_->Read(&response_, &read_);
    reader_->Finish(&status_, &finished_);
  }

  // OK once the registrar confirmed; otherwise the call's error or the
  // deadline. On failure the call is cancelled and finished.
  absl::Status AwaitConfirmed(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    const bool settled = AwaitLockedShielded(
        mu_, waiters_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return confirmed_ || OverLocked();
        },
        deadline);
    if (confirmed_) return absl::OkStatus();
    if (!settled) {
      context_.TryCancel();
      AwaitOverLocked();
      return absl::DeadlineExceededError("no confirmation before the deadline");
    }
    return ToAbslStatus(status_);
  }

  // Closes the call and waits for gRPC to finish with it.
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
    context_.TryCancel();
    AwaitOverLocked();
  }

 private:
  void OnStarted(bool) {
    absl::MutexLock lock(&mu_);
    starting_ = false;
    waiters_.NotifyAll();
  }

  void OnRead(bool ok) {
    absl::MutexLock lock(&mu_);
    waiters_.NotifyAll();
    if (!ok) {  // the call is ending; Finish completes
      reading_ = false;
      return;
    }
    confirmed_ = true;
    // Reading on notices the end of the call; no other response comes.
    reader_->Read(&response_, &read_);
  }

  void OnFinished(bool) {
    absl::MutexLock lock(&mu_);
    if (confirmed_ && !released_) {
      TETHER_LOG(kWarning) << "registry " << registry_
                           << " ended this actor's registration: "
                           << status_.error_message();
    }
    finished_call_ = true;
    waiters_.NotifyAll();
  }

  // gRPC is done with the call: no operation is outstanding, so the call
  // may be destroyed.
  bool OverLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_call_ && !reading_ && !starting_;
  }

  void AwaitOverLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    AwaitLockedShielded(
        mu_, waiters_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return OverLocked(); },
        absl::InfiniteFuture());
  }

  const std::string registry_;
  const std::shared_ptr<CallQueue> queue_ = std::make_shared<CallQueue>();
  grpc::ClientContext context_;
  v1::RegisterRequest request_;
  v1::HoldResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::HoldResponse>> reader_;
  MemberEvent<HoldCall> started_{this, &HoldCall::OnStarted};
  MemberEvent<HoldCall> read_{this, &HoldCall::OnRead};
  MemberEvent<HoldCall> finished_{this, &HoldCall::OnFinished};

  absl::Mutex mu_;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  bool starting_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool confirmed_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_call_ ABSL_GUARDED_BY(mu_) = false;
};

// The generated Async<Method> of the Registrar's stub, such as
// &Stub::AsyncFind.
template <typename Request, typename Response>
using UnaryMethod = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (
    v1::Registrar::Stub::*)(grpc::ClientContext*, const Request&,
                            grpc::CompletionQueue*);

class RegistrarClient final : public Registry {
 public:
  RegistrarClient(const Address& address, const TreeToken& token)
      : address_(address.ToString()),
        stub_(v1::Registrar::NewStub(DialTree(address_, token))) {}

  const std::string& address() const override { return address_; }

  absl::StatusOr<std::unique_ptr<Registration>> Hold(
      const v1::RegistryEntry& entry, absl::Time deadline) override;

  absl::StatusOr<bool> Unregister(const std::string& uuid,
                                  absl::string_view reason,
                                  absl::Time deadline) override {
    v1::UnregisterRequest request;
    request.set_uuid(uuid);
    request.set_reason(std::string(reason));
    v1::UnregisterResponse response;
    TETHER_RETURN_IF_ERROR(Call(&v1::Registrar::Stub::AsyncUnregister, request,
                                response, deadline, "unregister"));
    return response.removed();
  }

  absl::StatusOr<std::vector<v1::RegistryEntry>> Find(
      const std::string& name, absl::Time deadline) override {
    v1::FindRequest request;
    request.set_name(name);
    v1::FindResponse response;
    TETHER_RETURN_IF_ERROR(Call(&v1::Registrar::Stub::AsyncFind, request,
                                response, deadline,
                                absl::StrCat("find '", name, "'")));
    return std::vector<v1::RegistryEntry>(response.entries().begin(),
                                          response.entries().end());
  }

  absl::StatusOr<std::vector<v1::RegistryEntry>> Wait(
      const std::string& name, absl::Time deadline) override {
    v1::WaitRequest request;
    request.set_name(name);
    v1::FindResponse response;
    const absl::Status waited =
        Call(&v1::Registrar::Stub::AsyncWait, request, response, deadline,
             absl::StrCat("wait for '", name, "'"));
    if (absl::IsDeadlineExceeded(waited)) {
      return absl::DeadlineExceededError(
          absl::StrCat("registry ", address_, ": no actor named '", name,
                       "' registered before the deadline (or the registry "
                       "did not answer)"));
    }
    TETHER_RETURN_IF_ERROR(waited);
    return std::vector<v1::RegistryEntry>(response.entries().begin(),
                                          response.entries().end());
  }

  absl::StatusOr<std::vector<v1::RegistryEntry>> List(
      absl::Time deadline) override {
    v1::ListRequest request;
    v1::ListResponse response;
    TETHER_RETURN_IF_ERROR(Call(&v1::Registrar::Stub::AsyncList, request,
                                response, deadline, "list"));
    return std::vector<v1::RegistryEntry>(response.entries().begin(),
                                          response.entries().end());
  }

 private:
  // One unary call of `method` that ends by `deadline`, awaited as a
  // cancellation point of the calling task (rpc/await_call.h). An error
  // names this registry and `what`.
  template <typename Request, typename Response>
  absl::Status Call(UnaryMethod<Request, Response> method,
                    const Request& request, Response& response,
                    absl::Time deadline, absl::string_view what) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    const absl::Status status =
        AwaitCall<Response>(context, &response, [&](auto* queue) {
          return (stub_.get()->*method)(&context, request, queue);
        });
    return Annotate(status, address_, what);
  }

  const std::string address_;
  const std::unique_ptr<v1::Registrar::Stub> stub_;
};

// Unregisters explicitly, so lookups stop returning the entry before this
// returns, then closes the hold.
class HeldRegistration final : public Registry::Registration {
 public:
  HeldRegistration(RegistrarClient* registry, std::string uuid,
                   std::unique_ptr<HoldCall> call)
      : registry_(registry), uuid_(std::move(uuid)), call_(std::move(call)) {}

  ~HeldRegistration() override {
    absl::StatusOr<bool> removed =
        registry_->Unregister(uuid_, "exiting", absl::Now() + absl::Seconds(1));
    if (!removed.ok()) {
      TETHER_LOG(kDebug) << "unregister: " << removed.status().message();
    }
    call_->Release();
  }

 private:
  RegistrarClient* const registry_;
  const std::string uuid_;
  const std::unique_ptr<HoldCall> call_;
};

absl::StatusOr<std::unique_ptr<Registry::Registration>> RegistrarClient::Hold(
    const v1::RegistryEntry& entry, absl::Time deadline) {
  auto call = std::make_unique<HoldCall>(address_);
  call->Start(stub_.get(), entry);
  TETHER_RETURN_IF_ERROR(
      Annotate(call->AwaitConfirmed(deadline), address_, "register"));
  return std::make_unique<HeldRegistration>(this, entry.actor().id().uuid(),
                                            std::move(call));
}

}  // namespace

std::unique_ptr<Registry> NewRegistrarClient(const Address& address,
                                             const TreeToken& token) {
  return std::make_unique<RegistrarClient>(address, token);
}

}  // namespace tether
