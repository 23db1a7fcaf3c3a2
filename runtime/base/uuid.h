// File: runtime/base/uuid.h
//
// Random (version 4) UUIDs, the unique half of every actor's identity.
//
//   std::string id = tether::NewUuid();  // "3f2a9c1e-...-..."
//   assert(tether::IsUuid(id));
//
// Thread-safe.

#ifndef TETHER_RUNTIME_BASE_UUID_H_
#define TETHER_RUNTIME_BASE_UUID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace tether {

// A fresh RFC 4122 version-4 UUID in canonical lowercase text form
// (8-4-4-4-12 hex digits).
std::string NewUuid();

// True when `text` is a UUID in canonical lowercase text form (any version).
bool IsUuid(absl::string_view text);

}  // namespace tether

#endif  // TETHER_RUNTIME_BASE_UUID_H_
