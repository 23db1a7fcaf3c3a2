#include "app/registry_clients.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "tether/status_macros.h"

namespace tether {

std::unique_ptr<RegistryLink> RegistryClients::Create() {
  return std::unique_ptr<RegistryLink>(new RegistryClients());
}

absl::Status RegistryClients::Hold(const std::vector<std::string>& addresses,
                                   const v1::RegistryEntry& entry,
                                   const TreeToken& token,
                                   absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  for (const std::string& address : addresses) {
    TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Registry> registry,
                            ConnectRegistry(address, token));
    absl::StatusOr<std::unique_ptr<Registry::Registration>> registration =
        registry->Hold(entry, deadline);
    if (!registration.ok()) {
      return absl::Status(
          registration.status().code(),
          absl::StrCat("cannot register: ", registration.status().message()));
    }
    registries_.push_back(std::move(registry));
    registrations_.push_back(*std::move(registration));
  }
  return absl::OkStatus();
}

void RegistryClients::Release() {
  std::vector<std::unique_ptr<Registry::Registration>> registrations;
  {
    absl::MutexLock lock(&mu_);
    registrations.swap(registrations_);
  }
  registrations.clear();
}

}  // namespace tether
