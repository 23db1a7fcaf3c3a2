#include "client/registry/registry.h"

#include "absl/strings/str_cat.h"
#include "client/registry/etcd_registry.h"
#include "client/registry/registrar_client.h"
#include "tether/address.h"
#include "tether/status_macros.h"

namespace tether {

namespace {

absl::StatusOr<Address> ParseRegistrarAddress(absl::string_view address) {
  absl::StatusOr<Address> parsed = Address::Parse(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed registry address '", address,
        "': ", parsed.status().message(), "; or etcd://host:port for etcd"));
  }
  return parsed;
}

}  // namespace

absl::Status CheckRegistryAddress(absl::string_view address) {
  if (IsEtcdAddress(address)) return ParseEtcdAddress(address).status();
  return ParseRegistrarAddress(address).status();
}

absl::StatusOr<std::unique_ptr<Registry>> ConnectRegistry(
    absl::string_view address, const TreeToken& token) {
  if (IsEtcdAddress(address)) {
    TETHER_ASSIGN_OR_RETURN(Address endpoint, ParseEtcdAddress(address));
    return NewEtcdRegistry(endpoint);
  }
  TETHER_ASSIGN_OR_RETURN(Address parsed, ParseRegistrarAddress(address));
  return NewRegistrarClient(parsed, token);
}

}  // namespace tether
