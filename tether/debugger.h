// File: tether/debugger.h
//
// Debug mode: many actor processes, one terminal. A tree runs in debug mode
// when its root is started with it (RootOptions::debug_mode, or
// `actor_node --debug`); every child inherits it through its spec.
//
//   absl::Status Work(Context& ctx) {
//     TETHER_RETURN_IF_ERROR(Pause());   // prompt on the shared terminal
//     ...
//   }
//
// Pause() takes the tree-wide TTY lock from the root (first in, first out
// among waiters), shows the prompt of client/debug/debug_prompt.h, and releases
// the lock when the user continues. In debug mode a serving task that fails
// also shows its error (boxed type, message, trace) at the same prompt
// before the error is relayed (post-mortem); an actor the root has blocked
// (it lost its channel to the root while holding the lock) skips that
// prompt. Outside debug mode nothing waits.

#ifndef TETHER_DEBUGGER_H_
#define TETHER_DEBUGGER_H_

#include "absl/status/status.h"
#include "tether/actor_runtime.h"

namespace tether {

// Pauses the calling actor task at the debug prompt. A cancellation point
// while it waits for the terminal. Errors: not in debug mode or not in an
// actor's task (FAILED_PRECONDITION); the root refused or could not be
// reached; `q` at the prompt (CANCELLED: the actor is being cancelled).
absl::Status Pause();
// Pause() for code that is not in a serving task, such as a root's body.
absl::Status Pause(ActorRuntime& self);

// Turns on debug mode's post-mortem prompt for `runtime`'s serving tasks.
// Called by the programs that run actors when debug mode is on.
void InstallPostMortem(ActorRuntime* runtime);

}  // namespace tether

#endif  // TETHER_DEBUGGER_H_
