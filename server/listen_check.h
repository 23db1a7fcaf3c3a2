// File: server/listen_check.h
//
// Checks, before gRPC tries, that an address can be listened on, so a node
// can say exactly what is wrong ("address already in use") instead of gRPC's
// generic bind failure.
//
//   absl::Status ok = CheckCanListen(*Address::Parse("127.0.0.1:5000"));
//
// A check, not a reservation: a racing process can still take the address
// between the check and the bind, which the server then reports on its own.
// Thread-safe.

#ifndef TETHER_SERVER_LISTEN_CHECK_H_
#define TETHER_SERVER_LISTEN_CHECK_H_

#include "absl/status/status.h"
#include "tether/address.h"

namespace tether {

// TCP: the host resolves and every address it resolves to can be bound on
// the port (with SO_REUSEADDR, as gRPC binds). Unix: the directory exists and
// the path is free or holds a stale socket nobody accepts on; a live server
// there is never displaced. Errors name the address and the cause.
absl::Status CheckCanListen(const Address& address);

}  // namespace tether

#endif  // TETHER_SERVER_LISTEN_CHECK_H_
