// File: client/debug/debug_lock.h
//
// Acquiring the tree-wide TTY lock from the root's tether.v1.Debug service
// (see server/debug/debug_service.h for the root's side).
//
//   absl::StatusOr<std::unique_ptr<DebugLockHold>> hold =
//       AcquireDebugLock(root_address, request);   // waits its turn
//   if (hold.ok()) { /* use the terminal */ (*hold)->Release(); }
//
// AcquireDebugLock is a cancellation point: a task cancelled while it waits
// withdraws its request (with Stop, which also gives back a grant that
// crossed the cancellation; the actor is not blocked). Errors: the root refused
// the lock (an error whose ErrorInfo type is "tether.DebugLockRefused"), the
// root cannot be reached (UNAVAILABLE), or the stream broke.

#ifndef TETHER_CLIENT_DEBUG_DEBUG_LOCK_H_
#define TETHER_CLIENT_DEBUG_DEBUG_LOCK_H_

#include <memory>

#include "absl/status/statusor.h"
#include "runtime/base/tree_token.h"
#include "tether/address.h"
#include "tether/v1/debug.pb.h"

namespace tether {

class DebugLockHold {
 public:
  virtual ~DebugLockHold() = default;
  // Releases the lock (Stop) and waits for the root's Return, briefly. The
  // destructor releases a hold not yet released.
  virtual void Release() = 0;
};

// The request carries `token`, the tree's.
absl::StatusOr<std::unique_ptr<DebugLockHold>> AcquireDebugLock(
    const Address& root, const v1::DebugLockRequest& request,
    const TreeToken& token);

// Whether `status` is the root's refusal (the requester is blocked).
bool IsDebugLockRefused(const absl::Status& status);

}  // namespace tether

#endif  // TETHER_CLIENT_DEBUG_DEBUG_LOCK_H_
