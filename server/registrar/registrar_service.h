// File: server/registrar/registrar_service.h
//
// tether.v1.Registrar served from a RegistryStore: the embedded registrar a
// root actor hosts unless it is told to use another registry. Its methods
// are on gRPC's async API, served from the queue of the server's
// CallAcceptor (server/served_on_queue.h).
//
//   RegistrarService registrar;
//   builder.RegisterService(&registrar);
//   ...                       // a CallAcceptor serves it
//   registrar.Close();        // before the server shuts down
//
// Entries must name an actor (name and uuid), give at least one address
// in Tether's address syntax and take at most 4 KB serialized; anything
// else is INVALID_ARGUMENT. A full registry (RegistryStore's limit) answers
// RESOURCE_EXHAUSTED to a new uuid. A Hold call keeps its entry for as
// long as the call is open. A Wait answers once an entry of its name
// exists, or ends with the call. Thread-safe; the handlers never block.

#ifndef TETHER_SERVER_REGISTRAR_REGISTRAR_SERVICE_H_
#define TETHER_SERVER_REGISTRAR_REGISTRAR_SERVICE_H_

#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/registrar/registry_store.h"
#include "server/served_on_queue.h"
#include "server/unary_method.h"
#include "tether/v1/registrar.grpc.pb.h"

namespace tether {

using RegistrarServiceBase =
    v1::Registrar::WithAsyncMethod_Register<v1::Registrar::WithAsyncMethod_Hold<
        v1::Registrar::WithAsyncMethod_Unregister<
            v1::Registrar::WithAsyncMethod_Find<
                v1::Registrar::WithAsyncMethod_Wait<
                    v1::Registrar::WithAsyncMethod_List<
                        v1::Registrar::Service>>>>>>;

class RegistrarService final : public RegistrarServiceBase,
                               public ServedOnQueue {
 public:
  // At most `max_entries` entries at a time; beyond that, registering a new
  // uuid is RESOURCE_EXHAUSTED.
  explicit RegistrarService(
      size_t max_entries = RegistryStore::kDefaultMaxEntries)
      : store_(max_entries) {}
  RegistrarService(const RegistrarService&) = delete;
  RegistrarService& operator=(const RegistrarService&) = delete;
  // Close() must have been called if any Hold was accepted.
  ~RegistrarService() override;

  void StartServing(CallRequester* requester) override;

  // Ends every open Hold (UNAVAILABLE: the registrar is closing), removing
  // their entries, and waits until gRPC is done with them. Holds arriving
  // later are refused. REQUIRES: the acceptor still drains the queue.
  void Close();

  RegistryStore& store() { return store_; }

 private:
  class HoldCall;
  class WaitCall;

  grpc::Status HandleRegister(const v1::RegisterRequest& request,
                              v1::RegisterResponse* response);
  grpc::Status HandleUnregister(const v1::UnregisterRequest& request,
                                v1::UnregisterResponse* response);
  grpc::Status HandleFind(const v1::FindRequest& request,
                          v1::FindResponse* response);
  grpc::Status HandleList(const v1::ListRequest& request,
                          v1::ListResponse* response);
  void RequestNextHold();
  void RequestNextWait();

  RegistryStore store_;
  CallRequester* requester_ = nullptr;
  UnaryMethod<RegistrarService, v1::RegisterRequest, v1::RegisterResponse>
      register_{this, &RegistrarService::RequestRegister,
                [this](const v1::RegisterRequest& request,
                       v1::RegisterResponse* response) {
                  return HandleRegister(request, response);
                }};
  UnaryMethod<RegistrarService, v1::UnregisterRequest, v1::UnregisterResponse>
      unregister_{this, &RegistrarService::RequestUnregister,
                  [this](const v1::UnregisterRequest& request,
                         v1::UnregisterResponse* response) {
                    return HandleUnregister(request, response);
                  }};
  UnaryMethod<RegistrarService, v1::FindRequest, v1::FindResponse> find_{
      this, &RegistrarService::RequestFind,
      [this](const v1::FindRequest& request, v1::FindResponse* response) {
        return HandleFind(request, response);
      }};
  UnaryMethod<RegistrarService, v1::ListRequest, v1::ListResponse> list_{
      this, &RegistrarService::RequestList,
      [this](const v1::ListRequest& request, v1::ListResponse* response) {
        return HandleList(request, response);
      }};

  // Guards the state of every Hold and Wait call too.
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // The holds that arrived, registered and are not done.
  std::set<HoldCall*> holds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_REGISTRAR_REGISTRAR_SERVICE_H_
