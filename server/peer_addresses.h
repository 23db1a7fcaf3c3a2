// File: server/peer_addresses.h
//
// Where an actor may send out-of-band Signals about a context it serves:
// only back to the opener that called, never to addresses of its choosing.
// A Start names the opener's addresses (Start.opener.addresses); of those,
// only the ones on the host the call came from count. So an opener cannot
// make the callee dial a third party, and with it carry the tree's token
// there.
//
//   std::vector<std::string> route =
//       AddressesOnPeerHost(server_context.peer(), start.opener());
//
// Thread-safe (a pure function).

#ifndef TETHER_SERVER_PEER_ADDRESSES_H_
#define TETHER_SERVER_PEER_ADDRESSES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tether/v1/identity.pb.h"

namespace tether {

// The addresses of `opener` on the host of `peer`, gRPC's name of the
// calling end ("ipv4:10.0.0.2:51234", "ipv6:[::1]:51234", "unix:..."): TCP
// addresses whose host is the peer's IP literal when the call came over
// TCP, unix-socket addresses when it came over a unix socket (the same
// machine). Host names never match: an opener that wants Signals names
// itself by IP.
std::vector<std::string> AddressesOnPeerHost(absl::string_view peer,
                                             const v1::ActorRef& opener);

}  // namespace tether

#endif  // TETHER_SERVER_PEER_ADDRESSES_H_
