// File: server/health_service.h
//
// grpc.health.v1.Health for an actor, on gRPC's async API and served by its
// CallAcceptor (server/call_acceptor.h), like every other method: gRPC's
// default health service uses the callback API, whose threads would wait
// in the epoll set (docs/performance.md, "The standing pollers").
//
// The server as a whole (service "") is SERVING until Shutdown() and
// NOT_SERVING from then on. Any other name is unknown, as with gRPC's
// default service: Check answers NOT_FOUND, Watch streams SERVICE_UNKNOWN.
// A Watch stream sends the status at once and again whenever it changes;
// it ends when the client cancels it or the server shuts down.
//
//   HealthService health;
//   builder.RegisterService(&health);
//   ...  // the acceptor calls health.ServeWatches(requester) and answers
//        // Check with health.HandleCheck
//   health.Shutdown();                 // before the server's own shutdown
//
// Thread-safe.

#ifndef TETHER_SERVER_HEALTH_SERVICE_H_
#define TETHER_SERVER_HEALTH_SERVICE_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"

namespace tether {

using HealthServiceBase = grpc::health::v1::Health::WithAsyncMethod_Check<
    grpc::health::v1::Health::WithAsyncMethod_Watch<
        grpc::health::v1::Health::Service>>;

class HealthService final : public HealthServiceBase {
 public:
  using CheckRequest = grpc::health::v1::HealthCheckRequest;
  using CheckResponse = grpc::health::v1::HealthCheckResponse;
  using WatchWriter = grpc::ServerAsyncWriter<CheckResponse>;
  // Asks gRPC for the next Watch call, whose arrival completes `tag`; false
  // when it did not ask because the server is stopping.
  using WatchRequester =
      std::function<bool(grpc::ServerContext* context, CheckRequest* request,
                         WatchWriter* writer, void* tag)>;

  HealthService() = default;
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;
  // REQUIRES: every Watch call is over (the server shut down and its queue
  // was drained).
  ~HealthService() override;

  grpc::Status HandleCheck(const CheckRequest& request,
                           CheckResponse* response);

  // Keeps one Watch call requested through `requester` from now on; its
  // completions must reach the CallEvent tags it is given.
  void ServeWatches(WatchRequester requester);

  // NOT_SERVING from now on, sent to every open Watch stream. Idempotent.
  void Shutdown();

 private:
  class Watch;

  void RequestNextWatch();
  CheckResponse::ServingStatus StatusOfLocked(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  WatchRequester requester_;
  absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = true;
  // The Watch streams that arrived and are not over.
  absl::flat_hash_set<Watch*> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_HEALTH_SERVICE_H_
