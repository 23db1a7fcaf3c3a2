// File: tether/debugger.h
//
// Debug mode: many actor processes, one terminal. A tree runs in debug mode
// when its root is started with it (RootOptions::debug_mode, or
// `actor_node --debug`); every child inherits it through its spec.
//
// Pause() takes the tree-wide TTY lock from the root (first in, first out
// among waiters), shows a prompt on the shared terminal (`c` continues,
// `bt`, `ctx`, `gdb`, `q`; docs/debugging.md), and releases the lock when
// the user continues. In debug mode a serving task that fails also shows
// its error (boxed type, message, trace) at the same prompt before the
// error is relayed (post-mortem); an actor the root has blocked (it lost
// its channel to the root while holding the lock) skips that prompt.
// Outside debug mode nothing waits.
//
// clang-format off
// Example:
//
//   // Stops at the prompt before it answers, when the tree is in debug mode.
//   absl::StatusOr<Value> Inspect(const Value& args) {
//     if (ActorRuntime::Current()->debug_mode()) {
//       TETHER_RETURN_IF_ERROR(Pause());
//     }
//     return args;
//   }
//   TETHER_REGISTER_PLAIN(inspect, Inspect);
// clang-format on
//
// Thread-safety: thread-safe; tasks of every actor of the tree take turns
// at the one prompt.

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

}  // namespace tether

#endif  // TETHER_DEBUGGER_H_
