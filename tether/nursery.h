// File: tether/nursery.h
//
// An actor nursery: child actor processes scoped to a block, supervised
// one-cancels-all, in the manner of tractor's open_nursery. Children run
// the program's own binary, re-executed (tether/main.h), so every function
// the program registers exists in them.
//
// clang-format off
// Example:
//
//   // Starts a daemon and a one-shot job; an error from either cancels both.
//   absl::Status RunTwo(ActorRuntime& self) {
//     return ActorNursery::Open(&self, [](ActorNursery& nursery) -> absl::Status {
//       TETHER_ASSIGN_OR_RETURN(Portal * worker, nursery.StartActor("worker"));
//       TETHER_ASSIGN_OR_RETURN(Value pong, worker->Run("ping", Value()));
//       TETHER_ASSIGN_OR_RETURN(
//           Portal * job, nursery.RunInActor("job", "compute", Value::Int(7)));
//       TETHER_ASSIGN_OR_RETURN(Value result, nursery.WaitResult(job));
//       std::printf("%s %s\n", pong.ToJson().c_str(), result.ToJson().c_str());
//       return worker->CancelActor().status();
//     });
//   }
// clang-format on
//
// Rules:
//   - StartActor starts a daemon: it lives until it is cancelled (its
//     Portal's CancelActor(), or the nursery's CancelAll()).
//   - RunInActor starts a child, runs one plain function there, keeps the
//     result (WaitResult) and then cancels the child.
//   - The nursery ends when its block has returned and every child has
//     exited. Until then an error anywhere - the block's, a RunInActor
//     function's, a child that dies - cancels every child, all at once.
//     A child that dies during its RunInActor call is reported by its
//     death (ActorFailure, with the tail of its stderr), not by the
//     TransportClosed of the call; one killed by the nursery's own
//     escalation is not a failure.
//   - Cancelling a child escalates: a cancel request, then SIGTERM after
//     0.5 s, then SIGKILL 1.6 s later; each step is logged. Every child is
//     reaped. In debug mode the cancel request waits until nobody in the
//     tree is at the debug prompt, and SIGTERM until neither the child nor
//     a descendant holds it.
//   - Open returns OK, the one error, or a group (ERROR_KIND_GROUP) of all
//     of them, each naming its child.
//   - A nursery is a cancel scope: cancelling the task that opened it
//     cancels its children.
//
// Thread-safety: thread-safe; tasks of the block may start children
// concurrently. The nursery and its portals live until Open returns.

#ifndef TETHER_NURSERY_H_
#define TETHER_NURSERY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/actor_runtime.h"
#include "tether/portal.h"
#include "tether/value.h"

namespace tether {

struct ActorOptions {
  // How long a child may take to boot and report before it is an
  // ActorFailure.
  absl::Duration spawn_timeout = absl::Seconds(10);
  // Where the child listens: "" for an ephemeral loopback port, or
  // "unix:/path".
  std::string listen;
};

// Escalation when a child does not exit after its cancel request.
struct Escalation {
  absl::Duration cancel_timeout = absl::Milliseconds(500);
  absl::Duration terminate_timeout = absl::Milliseconds(1600);
};

class ActorNursery {
 public:
  using Block = std::function<absl::Status(ActorNursery& nursery)>;

  // Runs `block` with a new nursery of `self`'s children and returns when
  // every child is gone (see the rules above).
  static absl::Status Open(ActorRuntime* self, const Block& block,
                           const Escalation& escalation = Escalation());

  ActorNursery(const ActorNursery&) = delete;
  ActorNursery& operator=(const ActorNursery&) = delete;

  // Starts a daemon child named `name` and returns its portal, valid until
  // the nursery ends. Errors: ActorFailure when it fails to boot.
  absl::StatusOr<Portal*> StartActor(absl::string_view name,
                                     const ActorOptions& options = {});

  // Starts a child that runs the plain function `function` with `args`,
  // then is cancelled. Returns at once; the function's result is kept for
  // WaitResult, its error fails the nursery.
  absl::StatusOr<Portal*> RunInActor(absl::string_view name,
                                     absl::string_view function, Value args,
                                     const ActorOptions& options = {});

  // Waits for the result of a RunInActor child (a cancellation point). A
  // child that died on its own (a crash, an exit) gives its ActorFailure,
  // not the broken call its death caused.
  absl::StatusOr<Value> WaitResult(Portal* portal);

  // Cancels every child now, in parallel, with escalation.
  void CancelAll();

 private:
  // The runtime's NurseryCore (client/nursery_core.h) is the one kind of
  // ActorNursery there is: it holds the state, and these methods forward
  // to it.
  friend class NurseryCore;
  ActorNursery() = default;
  ~ActorNursery() = default;
};
}  // namespace tether

#endif  // TETHER_NURSERY_H_
