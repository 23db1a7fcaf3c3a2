// File: app/debug_mode.h
//
// Debug mode's rules for one actor process (see tether/debugger.h), applied
// by the programs that run actors once the actor's server is up:
//   - a failing serving task shows the post-mortem prompt before its error
//     is relayed;
//   - SIGINT (the terminal's Ctrl-C, which reaches every process of the
//     tree) is ignored by children, whose teardown the root drives, and by
//     the root while some actor holds the TTY lock: Ctrl-C then belongs to
//     the prompt.
// Outside debug mode it does nothing: SIGINT keeps its default meaning.
//
//   ApplyDebugMode(&runtime, stop.get());

#ifndef TETHER_APP_DEBUG_MODE_H_
#define TETHER_APP_DEBUG_MODE_H_

#include "runtime/actor/actor_core.h"
#include "runtime/process/shutdown_signal.h"

namespace tether {

void ApplyDebugMode(ActorCore* runtime, ShutdownSignal* stop);

}  // namespace tether

#endif  // TETHER_APP_DEBUG_MODE_H_
