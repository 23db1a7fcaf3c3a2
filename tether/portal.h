// File: tether/portal.h
//
// A Portal is the local actor's handle on a remote actor: run its plain
// functions, open contexts with its context functions, cancel it. A nursery
// hands out portals to the children it starts (tether/nursery.h), lookups
// to actors found by name (tether/discovery.h); any actor can also be
// reached by address.
//
// OpenContext runs the block as a scope and applies the rules of
// tether/context.h when it ends: a block error comes out of OpenContext and
// cancels the callee; a callee error cancels the block and comes out
// instead; a ContextCancelled this side asked for with ctx.Cancel() is
// absorbed (OK). It returns only after the callee's outcome is known (or
// the callee failed to confirm a cancel within 0.5 s, after which the
// stream is cancelled), and after gRPC is done with the stream.
//
// clang-format off
// Example:
//
//   // Calls `echo` on the actor at `address`, then streams with `counter`.
//   absl::Status TalkTo(ActorRuntime& self, const Address& address) {
//     Portal peer(&self, address);
//     TETHER_ASSIGN_OR_RETURN(Value echoed, peer.Run("echo", Value::String("hi")));
//     std::printf("echo: %s\n", echoed.ToJson().c_str());
//     return peer.OpenContext(
//         "counter", Value::Object({{"n", Value::Int(3)}}),
//         [](Context& ctx, const Value& started) -> absl::Status {
//           TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
//           for (const Value& v : stream) std::printf("%s\n", v.ToJson().c_str());
//           return stream.status();
//         });
//   }
// clang-format on
//
// Thread-safety: thread-safe; several tasks may use one Portal at once.
// Every call is a cancellation point of the calling task; cancelling it
// cancels the remote work too.

#ifndef TETHER_PORTAL_H_
#define TETHER_PORTAL_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/actor_runtime.h"
#include "tether/address.h"
#include "tether/context.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether {

class PortalChannel;

class Portal {
 public:
  using Block = std::function<absl::Status(Context& ctx, const Value& started)>;

  // `self` is the local actor: the opener and canceller of what this portal
  // starts; its addresses, if it serves, receive out-of-band signals. It
  // must outlive the portal.
  Portal(ActorRuntime* self, const Address& peer);
  Portal(const Portal&) = delete;
  Portal& operator=(const Portal&) = delete;
  ~Portal();

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
  ActorRuntime* const self_;
  const Address peer_;
  // The gRPC channel to the peer and what runs on it (client/portal.cc).
  const std::unique_ptr<PortalChannel> channel_;
};

}  // namespace tether

#endif  // TETHER_PORTAL_H_
