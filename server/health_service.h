// File: server/health_service.h
//
// grpc.health.v1.Health for an actor, on gRPC's async API and served by its
// CallAcceptor (server/served_on_queue.h), like every other method: gRPC's
// default health service uses the callback API.
//
// The server as a whole (service "") is SERVING until Shutdown() and
// NOT_SERVING from then on. Any other name is unknown, as with gRPC's
// default service: Check answers NOT_FOUND, Watch streams SERVICE_UNKNOWN.
// A Watch stream sends the status at once and again whenever it changes;
// it ends when the client cancels it or the server shuts down.
//
// Check is open to anyone: load balancers and probes carry no token, and
// it tells nothing but whether the server serves. Watch holds a stream
// open, so only the tree's own callers may (CallRequester::Admit).
//
//   HealthService health;
//   builder.RegisterService(&health);
//   ...  // a CallAcceptor serves it
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
#include "server/served_on_queue.h"
#include "server/unary_method.h"

namespace tether {

using HealthServiceBase = grpc::health::v1::Health::WithAsyncMethod_Check<
    grpc::health::v1::Health::WithAsyncMethod_Watch<
        grpc::health::v1::Health::Service>>;

class HealthService final : public HealthServiceBase, public ServedOnQueue {
 public:
  using CheckRequest = grpc::health::v1::HealthCheckRequest;
  using CheckResponse = grpc::health::v1::HealthCheckResponse;

  HealthService() = default;
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;
  // REQUIRES: every Watch call is over (the server shut down and its queue
  // was drained).
  ~HealthService() override;

  void StartServing(CallRequester* requester) override;

  // NOT_SERVING from now on, sent to every open Watch stream. Idempotent.
  void Shutdown();

 private:
  class Watch;

  grpc::Status HandleCheck(const CheckRequest& request,
                           CheckResponse* response);
  void RequestNextWatch();
  CheckResponse::ServingStatus StatusOfLocked(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Open to anyone: probes carry no token.
  UnaryMethod<HealthService, CheckRequest, CheckResponse> check_{
      this, &HealthService::RequestCheck,
      [this](const CheckRequest& request, CheckResponse* response) {
        return HandleCheck(request, response);
      },
      nullptr,
      UnaryMethod<HealthService, CheckRequest,
                  CheckResponse>::Admission::kOpen};
  CallRequester* requester_ = nullptr;
  absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = true;
  // The Watch streams that arrived and are not over.
  absl::flat_hash_set<Watch*> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_HEALTH_SERVICE_H_
