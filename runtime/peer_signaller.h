// File: runtime/peer_signaller.h
//
// Sends Actor/Signal requests (urgent Cancel or Error, out of band) to a
// peer actor by address, without blocking the caller. Channels are kept per
// address, since a peer that needed one signal often needs another.
//
//   PeerSignaller signaller;
//   signaller.Send(opener.addresses(), request);   // fire and forget
//
// Thread-safe.

#ifndef TETHER_RUNTIME_PEER_SIGNALLER_H_
#define TETHER_RUNTIME_PEER_SIGNALLER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/repeated_field.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

class PeerSignaller {
 public:
  PeerSignaller() = default;
  PeerSignaller(const PeerSignaller&) = delete;
  PeerSignaller& operator=(const PeerSignaller&) = delete;
  // Waits for signals still in flight (each bounded by a deadline).
  ~PeerSignaller();

  // Sends `request` to the first of `addresses`; does nothing when there
  // is none. Failures are logged at debug level: the in-band copy of the
  // frame still travels.
  void Send(const google::protobuf::RepeatedPtrField<std::string>& addresses,
            const v1::SignalRequest& request);

 private:
  v1::Actor::Stub* StubFor(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::Actor::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tether

#endif  // TETHER_RUNTIME_PEER_SIGNALLER_H_
