// File: tether/context.h
//
// A Context links a task in one actor (the *opener*) to a task in another
// (the *callee*) over one bidirectional stream, with tractor's rules:
//
//   - the callee sends exactly one Started value, then both sides may
//     stream, then the callee returns a result or fails;
//   - an error in the callee is relayed to the opener (boxed, with its relay
//     path) and cancels the opener's block; an error in the opener's block
//     cancels the callee;
//   - ctx.Cancel() from the opener cancels the callee, which answers with
//     ContextCancelled naming the opener as canceller; the opener *absorbs*
//     it (its block ends without error). A ContextCancelled the opener did
//     not ask for (e.g. someone cancelled the callee's actor) is not
//     absorbed;
//   - Error and Cancel are applied on arrival, ahead of queued data.
//
// The callee side is a registered context function (tether/function_
// registry.h); the opener side is a block that Portal::OpenContext runs
// (tether/portal.h), which applies the rules above when the block ends.
//
// clang-format off
// Example:
//
//   // The callee: counts to its argument, then returns it.
//   absl::StatusOr<Value> CountTo(Context& ctx, const Value& args) {
//     TETHER_ASSIGN_OR_RETURN(int64_t n, args.AsInt());
//     TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(0)));
//     TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
//     for (int64_t i = 1; i <= n; ++i) {
//       TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
//     }
//     return Value::Int(n);
//   }
//   TETHER_REGISTER_CONTEXT(count_to, CountTo);
//
//   // The opener: prints what the callee streams, then its result.
//   absl::Status PrintCount(Portal& peer) {
//     return peer.OpenContext(
//         "count_to", Value::Int(3),
//         [](Context& ctx, const Value& started) -> absl::Status {
//           TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
//           for (const Value& v : stream) std::printf("%s\n", v.ToJson().c_str());
//           TETHER_RETURN_IF_ERROR(stream.status());
//           TETHER_ASSIGN_OR_RETURN(Value result, ctx.Result());
//           std::printf("returned %s\n", result.ToJson().c_str());
//           return absl::OkStatus();
//         });
//   }
// clang-format on
//
// Thread-safety: every method is thread-safe; the runtime's transport
// delivers frames to the same Context while its task uses it. The blocking
// ones (Started, Result, and the sends and receives of OpenStream's
// MsgStream) are cancellation points of the calling task. A Context lives
// as long as the function or block it was given to; do not keep references
// past it.

#ifndef TETHER_CONTEXT_H_
#define TETHER_CONTEXT_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/msg_stream.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether {

// The opener's choices for one context.
struct ContextOptions {
  // Receive buffer of each side, in payloads.
  size_t buffer_size = 64;
  // The opener's receive side spills overflow into a bounded queue instead
  // of failing the context with StreamOverrun.
  bool allow_overruns = false;
  // Ask the callee's side to allow overruns too.
  bool callee_allow_overruns = false;
  // Per-context backpressure in both directions (FLOW_CONTROL_BACKPRESSURE):
  // a slow receiver blocks its sender through gRPC flow control.
  bool backpressure = false;
};

// Options of one side's stream.
struct StreamOptions {
  // This side's receive buffer spills instead of failing on overrun.
  bool allow_overruns = false;
};

class Context {
 public:
  enum class Side { kOpener, kCallee };

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Callee only, exactly once, before any streaming: the opener's first
  // value. A second call, a call on the opener side or in a plain function
  // fails, and the misuse also becomes the callee's final error (the opener
  // sees a RemoteActorError).
  absl::Status Started(Value value = Value());

  // Opens this side's message stream. Callee: after Started. After this
  // side's Cancel() it fails with the ContextCancelled the cancel will
  // bring. Once per context.
  absl::StatusOr<MsgStream> OpenStream(StreamOptions options = {});

  // Opener only: waits for the callee's final outcome (a cancellation
  // point) and returns it: the returned value, or the error, including an
  // absorbed ContextCancelled. Stream data still unread is discarded.
  absl::StatusOr<Value> Result(absl::Time deadline = absl::InfiniteFuture());

  // Opener: asks the callee to cancel (non-blocking); its final outcome
  // will be ContextCancelled with this actor as canceller, absorbed at the
  // block's exit. Callee: cancels its own task, with itself as canceller.
  // Does nothing once the outcome is known.
  void Cancel();

  Side side() const;
  // The function this context runs in the callee.
  const std::string& function() const;
  // The context's id: the opener's choice, or the callee's when it had
  // none.
  const std::string& id() const;
  v1::ActorId self() const;
  v1::ActorId peer() const;
  // The peer with its addresses (the callee's arrive with its StartAck).
  v1::ActorRef peer_ref() const;
  // This side called Cancel().
  bool cancel_called() const;
  // Opener: the callee confirmed our Cancel with its ContextCancelled.
  bool cancel_acked() const;
  // Who cancelled the context, once a ContextCancelled is known (from the
  // peer, or because this side's task was cancelled by a request).
  std::optional<v1::ActorId> canceller() const;
  // The final outcome once known: the callee's value or the context's
  // error.
  std::optional<absl::StatusOr<Value>> outcome() const;

 private:
  // The runtime's ContextCore is the one kind of Context there is: it
  // holds the state, and these methods forward to it.
  friend class ContextCore;
  Context() = default;
  ~Context() = default;
};

}  // namespace tether

#endif  // TETHER_CONTEXT_H_
