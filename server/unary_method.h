// File: server/unary_method.h
//
// One unary method served on gRPC's async API from a completion queue that
// a single thread drains (server/call_acceptor.h). The method keeps one
// call requested; when it arrives the next one is requested, the handler
// fills the response on the draining thread, and the call frees itself once
// gRPC is done sending it (or the server shut down first).
//
//   UnaryMethod<v1::InfoRequest, v1::ActorInfo> info(
//       [&](grpc::ServerContext* context, v1::InfoRequest* request,
//           grpc::ServerAsyncResponseWriter<v1::ActorInfo>* responder,
//           void* tag) {
//         service.RequestInfo(context, request, responder, queue, queue, tag);
//         return true;
//       },
//       [&](const v1::InfoRequest& request, v1::ActorInfo* response) {
//         return grpc::Status::OK;
//       });
//   info.RequestNext();
//   ...  // the draining thread calls static_cast<CallEvent*>(tag)->OnEvent
//
// Handlers run on the draining thread and must not block: no other call of
// the server's queue is handled meanwhile. The method must outlive its
// calls, i.e. the draining of the queue.

#ifndef TETHER_SERVER_UNARY_METHOD_H_
#define TETHER_SERVER_UNARY_METHOD_H_

#include <functional>
#include <utility>

#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "runtime/call_queue.h"

namespace tether {

template <typename Request, typename Response>
class UnaryMethod {
 public:
  using Responder = grpc::ServerAsyncResponseWriter<Response>;
  // Asks gRPC for the next call, whose arrival completes `tag`; false when
  // it did not ask because the server is stopping.
  using Requester =
      std::function<bool(grpc::ServerContext* context, Request* request,
                         Responder* responder, void* tag)>;
  using Handler =
      std::function<grpc::Status(const Request& request, Response* response)>;
  // Runs once the response is queued for sending.
  using Answered = std::function<void(const Request& request)>;

  UnaryMethod(Requester requester, Handler handler, Answered answered = nullptr)
      : requester_(std::move(requester)),
        handler_(std::move(handler)),
        answered_(std::move(answered)) {}

  UnaryMethod(const UnaryMethod&) = delete;
  UnaryMethod& operator=(const UnaryMethod&) = delete;

  void RequestNext() {
    auto* call = new Call(this);
    if (!requester_(&call->context_, &call->request_, &call->responder_,
                    call)) {
      delete call;
    }
  }

 private:
  // Completes twice: when the call arrives, and when its response is sent.
  class Call final : public CallEvent {
   public:
    explicit Call(UnaryMethod* method) : method_(method) {}

    void OnEvent(bool ok) override {
      if (arrived_ || !ok) {
        delete this;
        return;
      }
      arrived_ = true;
      method_->RequestNext();
      const grpc::Status status = method_->handler_(request_, &response_);
      // The completion is handled by this same thread, after this returns.
      responder_.Finish(response_, status, this);
      if (method_->answered_) method_->answered_(request_);
    }

   private:
    friend class UnaryMethod;

    UnaryMethod* const method_;
    bool arrived_ = false;
    grpc::ServerContext context_;
    Request request_;
    Response response_;
    Responder responder_{&context_};
  };

  const Requester requester_;
  const Handler handler_;
  const Answered answered_;
};

}  // namespace tether

#endif  // TETHER_SERVER_UNARY_METHOD_H_
