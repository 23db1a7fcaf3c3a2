#include "client/registry/registry.h"

#include "absl/strings/str_cat.h"
#include "client/registry/etcd_registry.h"
#include "client/registry/registrar_client.h"
#include "tether/address.h"
#include "tether/status_macros.h"

namespace tether {

absl::StatusOr<std::unique_ptr<Registry>> ConnectRegistry(
    absl::string_view address) {
  if (IsEtcdAddress(address)) {
    TETHER_ASSIGN_OR_RETURN(Address endpoint, ParseEtcdAddress(address));
    return NewEtcdRegistry(endpoint);
  }
  absl::StatusOr<Address> parsed = Address::Parse(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed registry address '", address,
        "': ", parsed.status().message(), "; or etcd://host:port for etcd"));
  }
  return NewRegistrarClient(*parsed);
}

}  // namespace tether
