// File: server/actor_server.h
//
// One actor's gRPC server: binds an address and serves tether.v1.Actor,
// grpc.health.v1.Health (SERVING while up) and server reflection
// (server/reflection_service.h), and keeps the actor registered while it
// serves.
//
// Debug mode: the root of a tree in debug mode (an actor without a parent)
// hosts the tree-wide TTY lock (tether.v1.Debug,
// server/debug/debug_service.h); no other actor serves it.
//
// Discovery: an actor whose runtime names registries registers with each of
// them once bound, through its RegistryLink (server/registry_link.h); an
// actor that names none is a root of discovery: it hosts the embedded
// tether.v1.Registrar, makes its own address its registry, and registers
// there; it also records itself for local tools (runtime/process/
// local_roots.h). A server without a link registers nowhere.
//
//   ActorCore runtime(*ActorIdentity::Create("worker"));
//   auto server = ActorServer::Start(&runtime, *Address::Parse("127.0.0.1:0"),
//                                    [](const v1::ActorId&) { ... },
//                                    RegistryClients::Create());
//   if (!server.ok()) { /* one-line reason, e.g. address already in use */ }
//   std::cout << (*server)->address().ToString();   // the real port
//   (*server)->Shutdown(absl::Milliseconds(500));
//
// Thread-safe. Shutdown() may be called more than once; the destructor calls
// it.

#ifndef TETHER_SERVER_ACTOR_SERVER_H_
#define TETHER_SERVER_ACTOR_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "runtime/actor/actor_core.h"
#include "runtime/debug/tty_lock.h"
#include "runtime/process/local_roots.h"
#include "server/actor_service.h"
#include "server/call_acceptor.h"
#include "server/debug/debug_service.h"
#include "server/health_service.h"
#include "server/reflection_service.h"
#include "server/registrar/registrar_service.h"
#include "server/registry_link.h"
#include "tether/address.h"

namespace tether {

class ActorServer {
 public:
  // Checks and binds `listen` (port 0 picks a free port), records the bound
  // address in `runtime`, serves it, and registers the actor through
  // `registries` (null: nowhere). Fails with a message naming the address
  // (or the registry) and the cause. `runtime` must outlive the server.
  static absl::StatusOr<std::unique_ptr<ActorServer>> Start(
      ActorCore* runtime, const Address& listen,
      ActorService::CancelHandler on_cancel,
      std::unique_ptr<RegistryLink> registries);

  ActorServer(const ActorServer&) = delete;
  ActorServer& operator=(const ActorServer&) = delete;
  ~ActorServer();

  // The bound address: `listen` with the real port filled in.
  const Address& address() const { return address_; }

  // Removes the actor from its registries, so lookups stop finding it.
  // Idempotent; Shutdown calls it too.
  void Unregister();

  // Unregisters, reports NOT_SERVING, lets in-flight calls finish for up to
  // `grace`, then cancels the rest and stops.
  void Shutdown(absl::Duration grace);

 private:
  ActorServer(Address address, std::unique_ptr<ActorService> service,
              std::unique_ptr<HealthService> health,
              std::unique_ptr<ReflectionService> reflection,
              std::unique_ptr<RegistrarService> registrar,
              std::unique_ptr<TtyLock> tty_lock,
              std::unique_ptr<DebugService> debug)
      : address_(std::move(address)),
        service_(std::move(service)),
        health_(std::move(health)),
        reflection_(std::move(reflection)),
        registrar_(std::move(registrar)),
        tty_lock_(std::move(tty_lock)),
        debug_(std::move(debug)) {}

  // The services the acceptor serves besides Context calls.
  std::vector<ServedOnQueue*> Served() const;

  // Registers with every registry of `runtime`.
  absl::Status Register(const ActorCore& runtime);

  const Address address_;
  // The services outlive server_: gRPC calls into them until Shutdown
  // returns.
  const std::unique_ptr<ActorService> service_;
  const std::unique_ptr<HealthService> health_;
  const std::unique_ptr<ReflectionService> reflection_;
  const std::unique_ptr<RegistrarService> registrar_;  // null: not hosted
  // Null unless the root of a tree in debug mode.
  const std::unique_ptr<TtyLock> tty_lock_;
  const std::unique_ptr<DebugService> debug_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CallAcceptor> acceptor_;
  // While it hosts the registrar: how local tools find it.
  std::unique_ptr<LocalRootRecord> local_root_;
  // Null: the actor registers nowhere.
  std::unique_ptr<RegistryLink> registries_;
};

}  // namespace tether

#endif  // TETHER_SERVER_ACTOR_SERVER_H_
