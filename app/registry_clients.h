// File: app/registry_clients.h
//
// The actor server's RegistryLink (server/registry_link.h) over the
// registry clients of client/registry/: a Hold on each registry, kept
// while the server serves.
//
//   auto server = ActorServer::Start(&runtime, listen, on_cancel,
//                                    RegistryClients::Create());
//
// Thread-safe.

#ifndef TETHER_APP_REGISTRY_CLIENTS_H_
#define TETHER_APP_REGISTRY_CLIENTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/registry/registry.h"
#include "server/registry_link.h"

namespace tether {

class RegistryClients final : public RegistryLink {
 public:
  static std::unique_ptr<RegistryLink> Create();

  absl::Status Hold(const std::vector<std::string>& addresses,
                    const v1::RegistryEntry& entry, const TreeToken& token,
                    absl::Time deadline) override;
  void Release() override;

 private:
  RegistryClients() = default;

  absl::Mutex mu_;
  // Registries before their registrations, which they must outlive.
  std::vector<std::unique_ptr<Registry>> registries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Registry::Registration>> registrations_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_APP_REGISTRY_CLIENTS_H_
