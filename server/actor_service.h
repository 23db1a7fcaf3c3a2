// File: server/actor_service.h
//
// tether.v1.Actor bound to this process's identity: Info describes the
// actor; Cancel answers, then hands the requester to the owner's callback,
// which shuts the actor down. Context and Signal are not served by this
// class yet and answer UNIMPLEMENTED (gRPC's default for callback services).
//
//   ActorService service(identity, [&](const v1::ActorId& requester) {
//     shutdown->Request("cancelled by " + requester.name());
//   });
//   service.SetAddresses({"127.0.0.1:41234"});
//   builder.RegisterService(&service);
//
// Thread-safe: gRPC calls the handlers from its own threads; they never
// block.

#ifndef TETHER_SERVER_ACTOR_SERVICE_H_
#define TETHER_SERVER_ACTOR_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "runtime/actor_identity.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

class ActorService final : public v1::Actor::CallbackService {
 public:
  // Called once per accepted Actor/Cancel, after the response is queued.
  using CancelHandler = std::function<void(const v1::ActorId& requester)>;

  ActorService(ActorIdentity identity, CancelHandler on_cancel);

  // The addresses Info reports; set once the server is bound.
  void SetAddresses(std::vector<std::string> addresses);

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request,
                                 v1::ActorInfo* response) override;

  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const v1::CancelActorRequest* request,
                                   v1::CancelActorResponse* response) override;

 private:
  const ActorIdentity identity_;
  const CancelHandler on_cancel_;
  absl::Mutex mu_;
  std::vector<std::string> addresses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_SERVER_ACTOR_SERVICE_H_
