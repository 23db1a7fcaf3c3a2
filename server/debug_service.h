// File: server/debug_service.h
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
// runtime/tty_lock.h) or withdraws the waiting request; a blocked actor's
// request is answered with Error{type: "tether.DebugLockRefused"}.
//
//   TtyLock lock;
//   DebugService debug(&lock, runtime.id());
//   builder.RegisterService(&debug);
//
// Thread-safe; handlers never block.

#ifndef TETHER_SERVER_DEBUG_SERVICE_H_
#define TETHER_SERVER_DEBUG_SERVICE_H_

#include "runtime/tty_lock.h"
#include "tether/v1/debug.grpc.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {

class DebugService final : public v1::Debug::CallbackService {
 public:
  // `lock` must outlive the service; `root` is the hosting actor.
  DebugService(TtyLock* lock, v1::ActorId root)
      : lock_(lock), root_(std::move(root)) {}

  grpc::ServerBidiReactor<v1::Frame, v1::Frame>* Lock(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::DebugStatusRequest* request,
                                   v1::DebugStatus* response) override;

 private:
  TtyLock* const lock_;
  const v1::ActorId root_;
};

}  // namespace tether

#endif  // TETHER_SERVER_DEBUG_SERVICE_H_
