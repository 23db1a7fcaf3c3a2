// File: client/registry/registrar_client.h
//
// The Registry (client/registry/registry.h) of a tether.v1.Registrar service,
// such as the one a root actor embeds. Normally reached through
// ConnectRegistry.
//
//   std::unique_ptr<Registry> registry =
//       NewRegistrarClient(*Address::Parse("127.0.0.1:41234"), token);
//
// Hold keeps one Registrar/Hold call open per registration; destroying the
// registration unregisters the entry, then closes the call.

#ifndef TETHER_CLIENT_REGISTRY_REGISTRAR_CLIENT_H_
#define TETHER_CLIENT_REGISTRY_REGISTRAR_CLIENT_H_

#include <memory>

#include "client/registry/registry.h"
#include "runtime/base/tree_token.h"
#include "tether/address.h"

namespace tether {

std::unique_ptr<Registry> NewRegistrarClient(const Address& address,
                                             const TreeToken& token);

}  // namespace tether

#endif  // TETHER_CLIENT_REGISTRY_REGISTRAR_CLIENT_H_
