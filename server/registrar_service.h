// File: server/registrar_service.h
//
// tether.v1.Registrar served from a RegistryStore: the embedded registrar a
// root actor hosts unless it is told to use another registry.
//
//   RegistrarService registrar;
//   builder.RegisterService(&registrar);
//   ...
//   registrar.Close();        // before the server shuts down
//
// Entries must name an actor (name and uuid), give at least one address
// in Tether's address syntax and take at most 4 KB serialized; anything
// else is INVALID_ARGUMENT. A full registry (RegistryStore's limit) answers
// RESOURCE_EXHAUSTED to a new uuid. A Hold
// call keeps its entry for as long as the call is open. Thread-safe; the
// handlers never block.

#ifndef TETHER_SERVER_REGISTRAR_SERVICE_H_
#define TETHER_SERVER_REGISTRAR_SERVICE_H_

#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/registry_store.h"
#include "tether/v1/registrar.grpc.pb.h"

namespace tether {

class RegistrarService final : public v1::Registrar::CallbackService {
 public:
  class HoldReactor;

  // At most `max_entries` entries at a time; beyond that, registering a new
  // uuid is RESOURCE_EXHAUSTED.
  explicit RegistrarService(
      size_t max_entries = RegistryStore::kDefaultMaxEntries)
      : store_(max_entries) {}
  RegistrarService(const RegistrarService&) = delete;
  RegistrarService& operator=(const RegistrarService&) = delete;
  // Close() must have been called if any Hold was accepted.
  ~RegistrarService() override;

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const v1::RegisterRequest* request,
                                     v1::RegisterResponse* response) override;
  grpc::ServerWriteReactor<v1::HoldResponse>* Hold(
      grpc::CallbackServerContext* context,
      const v1::RegisterRequest* request) override;
  grpc::ServerUnaryReactor* Unregister(
      grpc::CallbackServerContext* context,
      const v1::UnregisterRequest* request,
      v1::UnregisterResponse* response) override;
  grpc::ServerUnaryReactor* Find(grpc::CallbackServerContext* context,
                                 const v1::FindRequest* request,
                                 v1::FindResponse* response) override;
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* context,
                                 const v1::WaitRequest* request,
                                 v1::FindResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;

  // Ends every open Hold (UNAVAILABLE: the registrar is closing), removing
  // their entries, and waits until gRPC is done with them. Holds arriving
  // later are refused.
  void Close();

  RegistryStore& store() { return store_; }

 private:
  friend class HoldReactor;
  // False once closed: the caller must refuse the hold.
  bool Track(HoldReactor* hold);
  void Untrack(HoldReactor* hold);
  // True for exactly one caller per hold: the one that ends it (its
  // refusal, OnCancel or Close).
  bool Claim(HoldReactor* hold);

  RegistryStore store_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::set<HoldReactor*> holds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_REGISTRAR_SERVICE_H_
