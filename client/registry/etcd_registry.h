// File: client/registry/etcd_registry.h
//
// The Registry (client/registry/registry.h) kept in etcd (v3 API; etcd 3.4 or
// later), for trees whose names must survive the loss of any one actor.
// Normally reached through ConnectRegistry("etcd://host:port").
//
//   absl::StatusOr<Address> endpoint =
//   ParseEtcdAddress("etcd://10.0.0.5:2379"); std::unique_ptr<Registry>
//   registry = NewEtcdRegistry(*endpoint); auto held = registry->Hold(entry,
//   absl::Now() + absl::Seconds(5));
//
// Layout: one key per entry, kEtcdKeyPrefix + "<name>/<uuid>", whose value
// is the serialized v1::RegistryEntry (registered_at set by the holder's
// clock). Lookups read the keys under "<name>/" and answer newest first by
// the key's create revision, which etcd orders exactly.
//
// Hold grants a lease of kEtcdLeaseTtl, puts the key with that lease and
// renews it every third of its TTL from a thread of the registration's
// own. Destroying the registration stops renewing and revokes the lease,
// which deletes the key. A holder that dies without that (SIGKILL, a
// crash, a lost network) stops renewing, and etcd deletes the key when the
// lease expires: at most kEtcdLeaseTtl later.
//
// Wait reads the name's keys and, if there are none, watches them from the
// revision right after that read: a registration between the read and the
// watch is still seen, and nothing polls.
//
// Unregister(uuid) scans the keys (not the values) under kEtcdKeyPrefix
// for "/<uuid>": it serves the rare removal of a stale entry, so Hold pays
// for no second index key.
//
// Thread-safe. The registry must outlive its registrations.

#ifndef TETHER_CLIENT_REGISTRY_ETCD_REGISTRY_H_
#define TETHER_CLIENT_REGISTRY_ETCD_REGISTRY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/registry/registry.h"
#include "tether/address.h"

namespace tether {

inline constexpr absl::string_view kEtcdScheme = "etcd://";
inline constexpr absl::string_view kEtcdKeyPrefix = "/tether/registry/";
// How long an entry outlives its holder's last renewal. Short, so a dead
// actor drops out within seconds; a third of it (the renewal period) is
// still far above etcd's round trip.
inline constexpr absl::Duration kEtcdLeaseTtl = absl::Seconds(3);

// Whether `address` names an etcd registry (starts with "etcd://").
bool IsEtcdAddress(absl::string_view address);

// The endpoint of "etcd://host:port" (a TCP address with a non-zero
// port). Errors: INVALID_ARGUMENT, one line quoting `address`.
absl::StatusOr<Address> ParseEtcdAddress(absl::string_view address);

// A client of the etcd member at `endpoint`; connects lazily. Its
// address() is "etcd://" + endpoint.
std::unique_ptr<Registry> NewEtcdRegistry(const Address& endpoint);

}  // namespace tether

#endif  // TETHER_CLIENT_REGISTRY_ETCD_REGISTRY_H_
