// File: client/await_call.h
//
// Waits for one callback-API gRPC call as a cancellation point of the
// calling task (see runtime/task.h).
//
//   grpc::ClientContext context;
//   absl::Status s = AwaitCall(context, [&](auto done) {
//     stub->async()->Find(&context, &request, &response, std::move(done));
//   });
//
// `start` begins the call and hands it `done`, which gRPC calls once with
// the call's status. If the calling task is cancelled first, the call is
// cancelled, AwaitCall waits for gRPC to finish with it (so the request,
// response and context may then be destroyed), and returns the cancel
// reason.

#ifndef TETHER_CLIENT_AWAIT_CALL_H_
#define TETHER_CLIENT_AWAIT_CALL_H_

#include <functional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace tether {

absl::Status AwaitCall(
    grpc::ClientContext& context,
    absl::FunctionRef<void(std::function<void(grpc::Status)> done)> start);

}  // namespace tether

#endif  // TETHER_CLIENT_AWAIT_CALL_H_
