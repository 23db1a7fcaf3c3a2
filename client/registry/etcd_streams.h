// File: client/registry/etcd_streams.h
//
// The two long-lived etcd calls behind client/registry/etcd_registry.h.
// Internal to //client:registry.
//
//   // A registration: renew the lease until the keeper is destroyed.
//   auto keeper = LeaseKeeper::Start("etcd://...", lease_stub, lease_id,
//                                    absl::Seconds(1));
//
//   // A Wait: every put under the prefix from a revision on.
//   PrefixWatch watch(watch_stub, "/tether/registry/worker/", revision + 1);
//   absl::StatusOr<PrefixWatch::Event> event = watch.Next(deadline);

#ifndef TETHER_CLIENT_REGISTRY_ETCD_STREAMS_H_
#define TETHER_CLIENT_REGISTRY_ETCD_STREAMS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "runtime/task/wait.h"
#include "tether/task.h"

namespace tether {
namespace etcd_internal {

// The end of the key range holding every key that starts with `prefix`
// (which must end in '/', so incrementing its last byte cannot carry).
std::string PrefixEnd(std::string prefix);

// Renews one lease over LeaseKeepAlive streams from a thread of its own
// until destroyed. A stream that breaks is reopened a period later (etcd
// may be back before the lease expires); a renewal answered with a TTL of
// 0 means the lease is gone (it expired, or was revoked) and ends the
// renewals with a warning. Owned by one registration; only the destructor
// runs outside the keeper's thread.
class LeaseKeeper {
 public:
  // Renews `lease` every `period` through `stub`, which must outlive the
  // keeper; `registry` names etcd in log lines. ResourceExhausted when no
  // thread can be started.
  static absl::StatusOr<std::unique_ptr<LeaseKeeper>> Start(
      std::string registry, etcdserverpb::Lease::Stub* stub, int64_t lease,
      absl::Duration period);

  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  // Stops renewing: cancels the open stream and joins the thread.
  ~LeaseKeeper();

 private:
  enum class Outcome { kStopped, kBroken, kLost };
  using Stream = grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                          etcdserverpb::LeaseKeepAliveResponse>;

  LeaseKeeper(std::string registry, etcdserverpb::Lease::Stub* stub,
              int64_t lease, absl::Duration period);

  void Run();
  // Renews every period over `stream` until it breaks, the lease is gone,
  // or the keeper stops. `broken` counts the streams that broke in a row
  // before this one; a renewal resets it.
  Outcome Renew(Stream& stream, int* broken);
  // Waits until `deadline` unless the keeper stops first; whether it did.
  bool StoppingBy(absl::Time deadline);

  const std::string registry_;
  etcdserverpb::Lease::Stub* const stub_;
  const int64_t lease_;
  const absl::Duration period_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, so that stopping can cancel it.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Set once by Start, joined by the destructor.
  std::thread thread_;
};

// One Watch call holding one watch on a key prefix, from a given revision
// on, for PUT events. Destroying it cancels the call and waits for gRPC to
// finish with it. Next() is for one thread at a time.
class PrefixWatch final
    : public grpc::ClientBidiReactor<etcdserverpb::WatchRequest,
                                     etcdserverpb::WatchResponse> {
 public:
  enum class Event { kPut, kRestart };

  // Starts watching `prefix` (ending in '/') through `stub`, reporting
  // puts of revision `start_revision` and later.
  PrefixWatch(etcdserverpb::Watch::Stub* stub, const std::string& prefix,
              int64_t start_revision);
  ~PrefixWatch() override;

  // A cancellation point: kPut once a key was put since the last kPut;
  // kRestart when etcd cancelled the watch (its start revision was
  // compacted away), so the caller must read afresh; the call's error if
  // it ended; DEADLINE_EXCEEDED or the cancel reason.
  absl::StatusOr<Event> Next(absl::Time deadline);

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  grpc::ClientContext context_;
  etcdserverpb::WatchRequest request_;
  // Written by gRPC between StartRead and OnReadDone only.
  etcdserverpb::WatchResponse response_;

  absl::Mutex mu_;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  int64_t puts_ ABSL_GUARDED_BY(mu_) = 0;  // PUT events not yet taken
  bool canceled_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace etcd_internal
}  // namespace tether

#endif  // TETHER_CLIENT_REGISTRY_ETCD_STREAMS_H_
