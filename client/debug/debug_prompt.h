// File: client/debug/debug_prompt.h
//
// The prompt an actor task shows on the shared terminal while it holds the
// tree-wide TTY lock (see tether/debugger.h). It names the actor (name,
// uuid, pid) and the task, then reads commands until one ends it:
//
//   c, continue   release the terminal and resume
//   bt            the calling thread's stack, symbolized
//   ctx           the actor's open contexts
//   gdb           attach gdb to this process (the lock stays held); back to
//                 the prompt when gdb exits
//   q, quit       cancel this actor
//
//   DebugPrompt prompt(&runtime, "main", DebugTerminal::Open());
//   prompt.Show("paused");
//   if (prompt.Run() == DebugPrompt::Outcome::kQuit) { ... }
//
// End of input counts as `c`, so a prompt without a terminal never hangs.

#ifndef TETHER_CLIENT_DEBUG_DEBUG_PROMPT_H_
#define TETHER_CLIENT_DEBUG_DEBUG_PROMPT_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "runtime/actor/actor_core.h"

namespace tether {

// The controlling terminal (/dev/tty), or stdin/stdout when there is none.
class DebugTerminal {
 public:
  static std::unique_ptr<DebugTerminal> Open();
  ~DebugTerminal();

  void Write(absl::string_view text);
  // One line without its newline; nullopt at end of input.
  std::optional<std::string> ReadLine();

 private:
  DebugTerminal(int in, int out, bool owned)
      : in_(in), out_(out), owned_(owned) {}

  const int in_;
  const int out_;
  const bool owned_;  // close in_ (== out_) when done
};

class DebugPrompt {
 public:
  enum class Outcome { kContinue, kQuit };

  // `runtime` is the actor at the prompt; `task` names the paused task.
  DebugPrompt(ActorCore* runtime, std::string task,
              std::unique_ptr<DebugTerminal> terminal);

  // Prints `text` on the terminal.
  void Show(absl::string_view text);

  // Prints the banner, then reads commands until c or q (or end of input).
  Outcome Run(absl::string_view why);

 private:
  void ShowBacktrace();
  void ShowContexts();
  void RunGdb();

  ActorCore* const runtime_;
  const std::string task_;
  const std::unique_ptr<DebugTerminal> terminal_;
};

}  // namespace tether

#endif  // TETHER_CLIENT_DEBUG_DEBUG_PROMPT_H_
