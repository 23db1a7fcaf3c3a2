// File: rpc/peer_signaller.h
//
// Sends Actor/Signal requests (urgent Cancel or Error, out of band) to a
// peer actor by address, without blocking the caller. Channels are kept per
// address, since a peer that needed one signal often needs another.
//
// The calls use gRPC's async API on a queue of the signaller's own, drained
// by a thread that exists only while signals are in flight: no thread
// stands by in gRPC's epoll set between them (docs/performance.md, "The
// standing pollers").
//
//   PeerSignaller signaller(runtime.token());
//   signaller.Send(callee_address, request);   // fire and forget
//
// Thread-safe.

#ifndef TETHER_RPC_PEER_SIGNALLER_H_
#define TETHER_RPC_PEER_SIGNALLER_H_

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/completion_queue.h"
#include "runtime/base/tree_token.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

class PeerSignaller {
 public:
  // Signals carry `token`, the tree's.
  explicit PeerSignaller(TreeToken token) : token_(std::move(token)) {}
  PeerSignaller(const PeerSignaller&) = delete;
  PeerSignaller& operator=(const PeerSignaller&) = delete;
  // Waits for signals still in flight (each bounded by a deadline).
  ~PeerSignaller();

  // Sends `request` to the actor at `address`. Failures are logged at
  // debug level: the in-band copy of the frame still travels.
  void Send(const std::string& address, const v1::SignalRequest& request);

 private:
  v1::Actor::Stub* StubFor(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Handles completions until no signal is in flight.
  void Drain();

  const TreeToken token_;
  grpc::CompletionQueue queue_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::Actor::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // The thread running Drain(), or one that has returned from it.
  std::thread drainer_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tether

#endif  // TETHER_RPC_PEER_SIGNALLER_H_
