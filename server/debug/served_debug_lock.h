// File: server/debug/served_debug_lock.h
//
// Test support: tether.v1.Debug served the way a root serves it (a
// DebugService on a call acceptor), on a free loopback port, for the tests
// of the service and of its clients.
//
//   ServedDebugLock served;
//   ASSERT_TRUE(served.status().ok()) << served.status();
//   auto stub = v1::Debug::NewStub(
//       DialTree(served.address().ToString(), served.token()));
//   EXPECT_EQ(served.lock().Status().waiters_size(), 0);
//
// Thread-compatible: the test's thread makes and destroys it; the lock is
// thread-safe.

#ifndef TETHER_SERVER_DEBUG_SERVED_DEBUG_LOCK_H_
#define TETHER_SERVER_DEBUG_SERVED_DEBUG_LOCK_H_

#include <memory>

#include "absl/status/status.h"
#include "grpcpp/server.h"
#include "runtime/base/tree_token.h"
#include "runtime/debug/tty_lock.h"
#include "server/call_acceptor.h"
#include "server/debug/debug_service.h"
#include "tether/address.h"
#include "tether/v1/identity.pb.h"

namespace tether {

class ServedDebugLock {
 public:
  // Serves a new lock of a root named "root", to calls that carry
  // token() (a fresh one); status() says whether it could.
  ServedDebugLock();
  ServedDebugLock(const ServedDebugLock&) = delete;
  ServedDebugLock& operator=(const ServedDebugLock&) = delete;
  // Stops serving, after at most a second for calls in flight.
  ~ServedDebugLock();

  const absl::Status& status() const { return status_; }
  // Where it serves. REQUIRES: status().ok().
  const Address& address() const { return *address_; }
  TtyLock& lock() { return lock_; }
  const v1::ActorId& root() const { return root_; }
  const TreeToken& token() const { return token_; }

 private:
  v1::ActorId root_;
  const TreeToken token_ = TreeToken::Generate();
  TtyLock lock_;
  std::unique_ptr<DebugService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CallAcceptor> acceptor_;
  std::unique_ptr<Address> address_;
  absl::Status status_;
};

}  // namespace tether

#endif  // TETHER_SERVER_DEBUG_SERVED_DEBUG_LOCK_H_
