// File: client/debug/prompt_watch.h
//
// What a nursery's teardown must know in debug mode about the tree-wide
// debug prompt (the root's TTY lock, runtime/debug/tty_lock.h): whether anyone
// in the tree is at the prompt or waiting for it, and whether a child or
// one of its descendants is the one at the prompt. A child is not
// cancelled while anyone is at the prompt, and never signalled while its
// subtree holds the terminal.
//
//   std::unique_ptr<PromptWatch> watch = PromptWatch::For(runtime);
//   if (watch != nullptr && !watch->AwaitIdle(absl::Now())) {
//     watch->AwaitIdle(absl::InfiniteFuture());   // the user's turn first
//   }
//
// The root answers from the lock it hosts; any other actor asks the root's
// tether.v1.Debug/Status, every kPollInterval while it waits. When the
// root cannot be asked (no answer within kStatusTimeout: it is gone, or
// the link to it is), the watch reports the terminal free and logs a
// warning: teardown then escalates as it would outside debug mode rather
// than wait for a prompt nobody can show or end.
//
// Which processes are a child's descendants is read from /proc (each
// process's parent): actors of a tree are local processes forked by their
// parents. A descendant whose own parent already died was adopted by
// another process and no longer counts as one.
//
// Thread-safe.

#ifndef TETHER_CLIENT_DEBUG_PROMPT_WATCH_H_
#define TETHER_CLIENT_DEBUG_PROMPT_WATCH_H_

#include <sys/types.h>

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/actor/actor_core.h"
#include "tether/v1/debug.pb.h"

namespace tether {

class PromptWatch {
 public:
  // The lock's state, from wherever it is hosted.
  using StatusSource = std::function<absl::StatusOr<v1::DebugStatus>()>;

  static constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
  static constexpr absl::Duration kStatusTimeout = absl::Seconds(2);

  // A watch of `self`'s tree, or null outside debug mode.
  static std::unique_ptr<PromptWatch> For(const ActorCore& self);

  explicit PromptWatch(StatusSource source);

  // Blocks until nobody holds the lock and nobody waits for it, or until
  // `deadline`; true when so, or when the lock's state cannot be read.
  // Not a cancellation point: used by teardown, which must not run under
  // a user at the prompt.
  bool AwaitIdle(absl::Time deadline) const;

  // Blocks until neither process `pid` nor any of its descendants holds
  // the lock, or until `deadline`; true when so, or when the lock's state
  // cannot be read.
  bool AwaitNotHeldUnder(pid_t pid, absl::Time deadline) const;

 private:
  // Polls until `free` says the terminal is free of what the caller
  // waits for, or until `deadline`.
  bool AwaitFree(const std::function<bool(const v1::DebugStatus&)>& free,
                 absl::Time deadline) const;

  const StatusSource source_;
};

// Whether `pid` is `ancestor` or one of its descendants, by /proc.
bool IsSameOrDescendant(pid_t pid, pid_t ancestor);

}  // namespace tether

#endif  // TETHER_CLIENT_DEBUG_PROMPT_WATCH_H_
