// File: server/actor_service.h
//
// tether.v1.Actor bound to an ActorCore, every method on gRPC's async
// API, served by a CallAcceptor (server/call_acceptor.h):
//   Context  the acceptor hands each call to a serving task
//            (server/context_call.h);
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
// Thread-safe. The handlers never block: they run on the thread that
// accepts every call of the server.

#ifndef TETHER_SERVER_ACTOR_SERVICE_H_
#define TETHER_SERVER_ACTOR_SERVICE_H_

#include <functional>

#include "rpc/peer_signaller.h"
#include "runtime/actor/actor_core.h"
#include "server/served_on_queue.h"
#include "server/unary_method.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

// Context is registered raw (ByteBuffer frames) so the call can answer
// garbage with a protocol error.
using ActorServiceBase = v1::Actor::WithRawMethod_Context<
    v1::Actor::WithAsyncMethod_Cancel<v1::Actor::WithAsyncMethod_Info<
        v1::Actor::WithAsyncMethod_Signal<v1::Actor::Service>>>>;

class ActorService final : public ActorServiceBase, public ServedOnQueue {
 public:
  // Called once per accepted Actor/Cancel, after the response is queued.
  using CancelHandler = std::function<void(const v1::ActorId& requester)>;

  // `runtime` must outlive the service.
  ActorService(ActorCore* runtime, CancelHandler on_cancel);

  // Delivers the out-of-band Signals of the contexts this actor serves.
  PeerSignaller* signaller() { return &signaller_; }

  // Cancel, Info and Signal; Context is the acceptor's.
  void StartServing(CallRequester* requester) override;

 private:
  // Cancels every serving task with the requester as canceller.
  grpc::Status HandleCancel(const v1::CancelActorRequest& request,
                            v1::CancelActorResponse* response);
  grpc::Status HandleInfo(const v1::InfoRequest& request,
                          v1::ActorInfo* response);
  grpc::Status HandleSignal(const v1::SignalRequest& request,
                            v1::SignalResponse* response);

  ActorCore* const runtime_;
  const CancelHandler on_cancel_;
  PeerSignaller signaller_;
  UnaryMethod<ActorService, v1::CancelActorRequest, v1::CancelActorResponse>
      cancel_{this, &ActorService::RequestCancel,
              [this](const v1::CancelActorRequest& request,
                     v1::CancelActorResponse* response) {
                return HandleCancel(request, response);
              },
              [this](const v1::CancelActorRequest& request) {
                on_cancel_(request.requester());
              }};
  UnaryMethod<ActorService, v1::InfoRequest, v1::ActorInfo> info_{
      this, &ActorService::RequestInfo,
      [this](const v1::InfoRequest& request, v1::ActorInfo* response) {
        return HandleInfo(request, response);
      }};
  UnaryMethod<ActorService, v1::SignalRequest, v1::SignalResponse> signal_{
      this, &ActorService::RequestSignal,
      [this](const v1::SignalRequest& request, v1::SignalResponse* response) {
        return HandleSignal(request, response);
      }};
};

}  // namespace tether

#endif  // TETHER_SERVER_ACTOR_SERVICE_H_
