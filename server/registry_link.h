// File: server/registry_link.h
//
// How an actor server keeps its actor in the registries its runtime names
// (ActorCore::registry_addresses()) while it serves. server/ defines the
// interface and client/ has the registry clients; the application layer
// joins them (app/registry_clients.h), since neither may include the other.
//
//   std::unique_ptr<RegistryLink> link = RegistryClients::Create();
//   auto server = ActorServer::Start(&runtime, listen, on_cancel,
//                                    std::move(link));
//
// Thread-safe.

#ifndef TETHER_SERVER_REGISTRY_LINK_H_
#define TETHER_SERVER_REGISTRY_LINK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "runtime/base/tree_token.h"
#include "tether/v1/registrar.pb.h"

namespace tether {

class RegistryLink {
 public:
  virtual ~RegistryLink() = default;

  // Registers `entry` with the registry at each of `addresses`, in order,
  // presenting `token` (the tree's), and keeps it registered until
  // Release(). Waits for each one's
  // confirmation until `deadline`. The first failure ends the call; its
  // message names the registry.
  virtual absl::Status Hold(const std::vector<std::string>& addresses,
                            const v1::RegistryEntry& entry,
                            const TreeToken& token, absl::Time deadline) = 0;

  // Ends every registration Hold made, which removes the entries.
  // Idempotent.
  virtual void Release() = 0;
};

}  // namespace tether

#endif  // TETHER_SERVER_REGISTRY_LINK_H_
