#include "server/peer_addresses.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "tether/address.h"

namespace tether {
namespace {

// The IP literal of a TCP peer ("ipv4:H:P", "ipv6:[H]:P", the brackets
// maybe percent-encoded), without brackets; nullopt for other peers.
std::optional<std::string> PeerHost(absl::string_view peer) {
  absl::string_view rest = peer;
  const bool v4 = absl::ConsumePrefix(&rest, "ipv4:");
  if (!v4 && !absl::ConsumePrefix(&rest, "ipv6:")) return std::nullopt;
  const std::string decoded =
      absl::StrReplaceAll(rest, {{"%5B", "["}, {"%5D", "]"}});
  const size_t colon = decoded.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  absl::string_view host = absl::string_view(decoded).substr(0, colon);
  if (!v4) {
    if (!absl::ConsumePrefix(&host, "[") || !absl::ConsumeSuffix(&host, "]")) {
      return std::nullopt;
    }
  }
  return std::string(host);
}

}  // namespace

std::vector<std::string> AddressesOnPeerHost(absl::string_view peer,
                                             const v1::ActorRef& opener) {
  const std::optional<std::string> host = PeerHost(peer);
  const bool over_unix = absl::StartsWith(peer, "unix:");
  std::vector<std::string> route;
  for (const std::string& text : opener.addresses()) {
    absl::StatusOr<Address> address = Address::Parse(text);
    if (!address.ok()) continue;
    const bool same_host = address->is_tcp()
                               ? host.has_value() && address->host() == *host
                               : over_unix;
    if (same_host) route.push_back(text);
  }
  return route;
}

}  // namespace tether
