// File: server/actor_service.h
//
// tether.v1.Actor bound to an ActorRuntime:
//   Context  served on the async API: ContextAcceptor hands each call to
//            a serving task (server/context_call.h);
//   Cancel   cancels every serving task with the requester as canceller,
//            answers, then hands the requester to the owner's callback,
//            which shuts the actor down;
//   Info     the runtime's identity, addresses, contexts and counters;
//   Signal   out-of-band Cancel/Error for an open context.
//
//   ActorService service(&runtime, [&](const v1::ActorId& requester) {
//     shutdown->Request("cancelled by " + requester.name());
//   });
//   builder.RegisterService(&service);
//
// Thread-safe: gRPC calls the handlers from its own threads; they never
// block.

#ifndef TETHER_SERVER_ACTOR_SERVICE_H_
#define TETHER_SERVER_ACTOR_SERVICE_H_

#include <functional>

#include "runtime/actor_runtime.h"
#include "runtime/peer_signaller.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

// Context is registered raw (ByteBuffer frames) so the call can answer
// garbage with a protocol error, and on the async API so that its calls
// are polled by the tasks that wait on them; the other methods are typed
// callback methods.
using ActorServiceBase = v1::Actor::WithRawMethod_Context<
    v1::Actor::WithCallbackMethod_Cancel<v1::Actor::WithCallbackMethod_Info<
        v1::Actor::WithCallbackMethod_Signal<v1::Actor::Service>>>>;

class ActorService final : public ActorServiceBase {
 public:
  // Called once per accepted Actor/Cancel, after the response is queued.
  using CancelHandler = std::function<void(const v1::ActorId& requester)>;

  // `runtime` must outlive the service.
  ActorService(ActorRuntime* runtime, CancelHandler on_cancel);

  // Delivers the out-of-band Signals of the contexts this actor serves.
  PeerSignaller* signaller() { return &signaller_; }

  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const v1::CancelActorRequest* request,
                                   v1::CancelActorResponse* response) override;

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request,
                                 v1::ActorInfo* response) override;

  grpc::ServerUnaryReactor* Signal(grpc::CallbackServerContext* context,
                                   const v1::SignalRequest* request,
                                   v1::SignalResponse* response) override;

 private:
  ActorRuntime* const runtime_;
  const CancelHandler on_cancel_;
  PeerSignaller signaller_;
};

}  // namespace tether

#endif  // TETHER_SERVER_ACTOR_SERVICE_H_
