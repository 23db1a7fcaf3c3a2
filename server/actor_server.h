// File: server/actor_server.h
//
// One actor's gRPC server: binds an address and serves tether.v1.Actor,
// grpc.health.v1.Health (SERVING while up) and server reflection.
//
//   ActorRuntime runtime(*ActorIdentity::Create("worker"));
//   auto server = ActorServer::Start(&runtime, *Address::Parse("127.0.0.1:0"),
//                                    [](const v1::ActorId&) { ... });
//   if (!server.ok()) { /* one-line reason, e.g. address already in use */ }
//   std::cout << (*server)->address().ToString();   // the real port
//   (*server)->Shutdown(absl::Milliseconds(500));
//
// Thread-safe. Shutdown() may be called more than once; the destructor calls
// it.

#ifndef TETHER_SERVER_ACTOR_SERVER_H_
#define TETHER_SERVER_ACTOR_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "server/actor_service.h"

namespace tether {

class ActorServer {
 public:
  // Checks and binds `listen` (port 0 picks a free port), records the bound
  // address in `runtime`, then serves it. Fails with a message naming the
  // address and the cause. `runtime` must outlive the server.
  static absl::StatusOr<std::unique_ptr<ActorServer>> Start(
      ActorRuntime* runtime, const Address& listen,
      ActorService::CancelHandler on_cancel);

  ActorServer(const ActorServer&) = delete;
  ActorServer& operator=(const ActorServer&) = delete;
  ~ActorServer();

  // The bound address: `listen` with the real port filled in.
  const Address& address() const { return address_; }

  // Reports NOT_SERVING, lets in-flight calls finish for up to `grace`, then
  // cancels the rest and stops.
  void Shutdown(absl::Duration grace);

 private:
  ActorServer(Address address, std::unique_ptr<ActorService> service)
      : address_(std::move(address)), service_(std::move(service)) {}

  const Address address_;
  // Outlives server_: gRPC calls into it until Shutdown returns.
  const std::unique_ptr<ActorService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace tether

#endif  // TETHER_SERVER_ACTOR_SERVER_H_
