// File: client/debug/post_mortem.h
//
// Debug mode's post-mortem prompt (tether/debugger.h): a serving task that
// fails shows its error at the shared prompt before the error is relayed.
// The programs that run actors turn it on when their tree is in debug
// mode (app/debug_mode.h).
//
//   if (runtime.debug_mode()) InstallPostMortem(&runtime);
//
// Thread-safe.

#ifndef TETHER_CLIENT_DEBUG_POST_MORTEM_H_
#define TETHER_CLIENT_DEBUG_POST_MORTEM_H_

#include "runtime/actor/actor_core.h"

namespace tether {

// Turns on the post-mortem prompt for `runtime`'s serving tasks.
void InstallPostMortem(ActorCore* runtime);

}  // namespace tether

#endif  // TETHER_CLIENT_DEBUG_POST_MORTEM_H_
