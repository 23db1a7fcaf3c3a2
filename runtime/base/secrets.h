// File: runtime/base/secrets.h
//
// Random secrets and their comparison: the tree's token
// (runtime/base/tree_token.h) and the per-context keys that Signals must
// present (runtime/context/context_core.h).
//
//   const std::string key = RandomHex(16);    // 128 bits, 32 hex digits
//   if (SecretsEqual(presented, key)) ...
//
// Thread-safe.

#ifndef TETHER_RUNTIME_BASE_SECRETS_H_
#define TETHER_RUNTIME_BASE_SECRETS_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace tether {

// `bytes` random bytes from the kernel (getrandom), as lowercase hex.
// Aborts the process when the kernel has no randomness to give.
std::string RandomHex(size_t bytes);

// Whether `presented` equals `secret`, in a time that depends only on
// their lengths, not on where they differ.
bool SecretsEqual(absl::string_view presented, absl::string_view secret);

}  // namespace tether

#endif  // TETHER_RUNTIME_BASE_SECRETS_H_
