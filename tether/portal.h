// File: tether/portal.h
//
// A Portal is the local actor's handle on a remote actor: run its plain
// functions, open contexts with its context functions, cancel it.
//
//   Portal portal(&runtime, *Address::Parse("127.0.0.1:41234"));
//   absl::StatusOr<Value> r = portal.Run("echo", Value::String("hi"));
//
//   absl::Status s = portal.OpenContext(
//       "counter", Value::Object({{"n", Value::Int(3)}}),
//       [](Context& ctx, const Value& started) -> absl::Status {
//         TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
//         for (const Value& v : stream) std::cout << v.ToJson() << "\n";
//         return stream.status();
//       });
//
// OpenContext runs the block as a scope and applies the rules of
// tether/context.h when it ends: a block error comes out of OpenContext and
// cancels the callee; a callee error cancels the block and comes out
// instead; a ContextCancelled this side asked for with ctx.Cancel() is
// absorbed (OK). It returns only after the callee's outcome is known (or
// the callee failed to confirm a cancel within 0.5 s, after which the
// stream is cancelled), and after gRPC is done with the stream.
//
// Thread-safe: several tasks may use one Portal at once. Every call is a
// cancellation point of the calling task; cancelling it cancels the remote
// work too.

#ifndef TETHER_PORTAL_H_
#define TETHER_PORTAL_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "rpc/peer_signaller.h"
#include "tether/actor_runtime.h"
#include "tether/address.h"
#include "tether/context.h"
#include "tether/v1/actor.grpc.pb.h"
#include "tether/value.h"

namespace tether {

class Portal {
 public:
  using Block = std::function<absl::Status(Context& ctx, const Value& started)>;

  // `self` is the local actor: the opener and canceller of what this portal
  // starts; its addresses, if it serves, receive out-of-band signals. It
  // must outlive the portal.
  Portal(ActorRuntime* self, const Address& peer);

  // Runs the plain function `function` and returns its result or its
  // (boxed, relayed) error.
  absl::StatusOr<Value> Run(absl::string_view function, Value args = Value());

  // Opens a context with the context function `function` and runs `block`
  // with it and the callee's Started value. A block that throws is treated
  // as one that returned the boxed exception.
  absl::Status OpenContext(absl::string_view function, Value args,
                           const Block& block,
                           const ContextOptions& options = ContextOptions());

  // Cancels the remote actor: every task there is cancelled with this actor
  // as canceller, then it exits. Returns the actor that accepted.
  absl::StatusOr<v1::ActorId> CancelActor(
      absl::Duration timeout = absl::Seconds(2));

  const Address& address() const { return peer_; }

 private:
  // Creates the context and its stream, sends Start, runs `body` with the
  // context, then finishes the stream and forgets the context.
  template <typename Body>
  auto WithStream(absl::string_view function, v1::FunctionKind kind, Value args,
                  const ContextOptions& options, Body body);

  ActorRuntime* const self_;
  const Address peer_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Actor::Stub> stub_;
  // Contexts: their frames cross the stream as bytes (client/opener_stream.h).
  std::unique_ptr<grpc::GenericStub> context_stub_;
  PeerSignaller signaller_;
};

}  // namespace tether

#endif  // TETHER_PORTAL_H_
