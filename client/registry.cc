#include "client/registry.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/registrar_client.h"
#include "runtime/address.h"

namespace tether {

absl::StatusOr<std::unique_ptr<Registry>> ConnectRegistry(
    absl::string_view address) {
  absl::StatusOr<Address> parsed = Address::Parse(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed registry address '", address,
                     "': ", parsed.status().message(),
                     " (expected host:port, unix:/path or etcd://host:port)"));
  }
  return NewRegistrarClient(*parsed);
}

}  // namespace tether
