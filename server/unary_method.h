// File: server/unary_method.h
//
// One unary method served on gRPC's async API from the queue a
// CallAcceptor drains (server/served_on_queue.h). The method keeps one call
// requested; when it arrives the next one is requested, the handler fills
// the response on the draining thread, and the call frees itself once gRPC
// is done sending it (or the server shut down first).
//
//   UnaryMethod<ActorService, v1::InfoRequest, v1::ActorInfo> info_{
//       this, &ActorService::RequestInfo,
//       [this](const v1::InfoRequest& request, v1::ActorInfo* response) {
//         return HandleInfo(request, response);
//       }};
//   ...
//   info_.Start(requester);            // in StartServing
//
// A call without the tree's token is answered UNAUTHENTICATED before its
// handler runs (CallRequester::Admit), unless the method is open.
//
// Handlers must not block: no other call of the server's queue is handled
// meanwhile. The method must outlive its calls, i.e. the draining of the
// queue.

#ifndef TETHER_SERVER_UNARY_METHOD_H_
#define TETHER_SERVER_UNARY_METHOD_H_

#include <functional>
#include <utility>

#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "rpc/call_queue.h"
#include "server/served_on_queue.h"

namespace tether {

template <typename Service, typename Request, typename Response>
class UnaryMethod {
 public:
  using Responder = grpc::ServerAsyncResponseWriter<Response>;
  // The generated Request<Method> of `Service`.
  using RequestFn = void (Service::*)(grpc::ServerContext*, Request*,
                                      Responder*, grpc::CompletionQueue*,
                                      grpc::ServerCompletionQueue*, void*);
  using Handler =
      std::function<grpc::Status(const Request& request, Response* response)>;
  // Runs once the response is queued for sending.
  using Answered = std::function<void(const Request& request)>;

  // Who may call the method: the tree (callers with its token), or anyone
  // (health probes).
  enum class Admission { kTree, kOpen };

  UnaryMethod(Service* service, RequestFn request, Handler handler,
              Answered answered = nullptr,
              Admission admission = Admission::kTree)
      : service_(service),
        request_(request),
        handler_(std::move(handler)),
        answered_(std::move(answered)),
        admission_(admission) {}

  UnaryMethod(const UnaryMethod&) = delete;
  UnaryMethod& operator=(const UnaryMethod&) = delete;

  void Start(CallRequester* requester) {
    requester_ = requester;
    RequestNext();
  }

 private:
  // Completes twice: when the call arrives, and when its response is sent.
  class Call final : public CallEvent {
   public:
    explicit Call(UnaryMethod* method)
        : method_(method), live_(method->requester_) {}

    void OnEvent(bool ok) override {
      if (arrived_ || !ok) {
        delete this;
        return;
      }
      arrived_ = true;
      method_->RequestNext();
      if (method_->admission_ == Admission::kTree) {
        const grpc::Status admitted = method_->requester_->Admit(context_);
        if (!admitted.ok()) {
          responder_.FinishWithError(admitted, this);
          return;
        }
      }
      const grpc::Status status = method_->handler_(request_, &response_);
      // The completion is handled by this same thread, after this returns.
      responder_.Finish(response_, status, this);
      if (method_->answered_) method_->answered_(request_);
    }

   private:
    friend class UnaryMethod;

    UnaryMethod* const method_;
    const CallRequester::LiveCall live_;
    bool arrived_ = false;
    grpc::ServerContext context_;
    Request request_;
    Response response_;
    Responder responder_{&context_};
  };

  void RequestNext() {
    auto* call = new Call(this);
    grpc::ServerCompletionQueue* queue = requester_->queue();
    if (!requester_->Request([&] {
          (service_->*request_)(&call->context_, &call->request_,
                                &call->responder_, queue, queue, call);
        })) {
      delete call;
    }
  }

  Service* const service_;
  const RequestFn request_;
  const Handler handler_;
  const Answered answered_;
  const Admission admission_;
  CallRequester* requester_ = nullptr;
};

}  // namespace tether

#endif  // TETHER_SERVER_UNARY_METHOD_H_
