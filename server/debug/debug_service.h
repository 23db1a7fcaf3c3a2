// File: server/debug/debug_service.h
//
// tether.v1.Debug bound to a TtyLock: the root's side of debug mode. Each
// Debug/Lock stream is one request for the tree-wide TTY lock (the frame
// sequence is documented in proto/tether/v1/debug.proto):
//
//   opener -> Start{function: "tty_lock", args: DebugLockRequest}
//   root   <- StartAck, then Started{DebugLockGrant} once granted (FIFO)
//   opener -> Stop (or a half-close): release
//   root   <- Return{DebugLockRelease}
//
// A stream that breaks releases the lock (blocking the holder's actor, see
// runtime/debug/tty_lock.h) or withdraws the waiting request; a blocked actor's
// request is answered with Error{type: "tether.DebugLockRefused"}.
//
// Both methods are on gRPC's async API, served from the queue of the
// server's CallAcceptor (server/served_on_queue.h).
//
//   TtyLock lock;
//   DebugService debug(&lock, runtime.id());
//   builder.RegisterService(&debug);
//   ...                                // a CallAcceptor serves it
//
// Thread-safe; handlers never block.

#ifndef TETHER_SERVER_DEBUG_DEBUG_SERVICE_H_
#define TETHER_SERVER_DEBUG_DEBUG_SERVICE_H_

#include "runtime/debug/tty_lock.h"
#include "server/served_on_queue.h"
#include "server/unary_method.h"
#include "tether/v1/debug.grpc.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {

using DebugServiceBase = v1::Debug::WithAsyncMethod_Lock<
    v1::Debug::WithAsyncMethod_Status<v1::Debug::Service>>;

class DebugService final : public DebugServiceBase, public ServedOnQueue {
 public:
  // `lock` must outlive the service; `root` is the hosting actor.
  DebugService(TtyLock* lock, v1::ActorId root)
      : lock_(lock), root_(std::move(root)) {}

  void StartServing(CallRequester* requester) override;

 private:
  class LockCall;

  void RequestNextLock();

  TtyLock* const lock_;
  const v1::ActorId root_;
  CallRequester* requester_ = nullptr;
  UnaryMethod<DebugService, v1::DebugStatusRequest, v1::DebugStatus> status_{
      this, &DebugService::RequestStatus,
      [this](const v1::DebugStatusRequest&, v1::DebugStatus* response) {
        *response = lock_->Status();
        return grpc::Status::OK;
      }};
};

}  // namespace tether

#endif  // TETHER_SERVER_DEBUG_DEBUG_SERVICE_H_
