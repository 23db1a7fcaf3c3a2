#include "client/debug/debug_prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

extern char** environ;

namespace tether {
namespace {

constexpr int kMaxFrames = 64;

constexpr char kHelp[] =
    "commands: c (continue), bt (stack), ctx (open contexts), gdb (attach "
    "gdb), q (cancel this actor)\n";

absl::string_view SideName(v1::ContextInfo::Side side) {
  switch (side) {
    case v1::ContextInfo::SIDE_OPENER:
      return "opener";
    case v1::ContextInfo::SIDE_CALLEE:
      return "callee";
    default:
      return "?";
  }
}

absl::string_view StateName(v1::ContextInfo::State state) {
  switch (state) {
    case v1::ContextInfo::STATE_STARTING:
      return "starting";
    case v1::ContextInfo::STATE_STARTED:
      return "started";
    case v1::ContextInfo::STATE_CANCELLING:
      return "cancelling";
    case v1::ContextInfo::STATE_FINISHING:
      return "finishing";
    default:
      return "?";
  }
}

}  // namespace

std::unique_ptr<DebugTerminal> DebugTerminal::Open() {
  const int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty >= 0)
    return std::unique_ptr<DebugTerminal>(new DebugTerminal(tty, tty, true));
  return std::unique_ptr<DebugTerminal>(
      new DebugTerminal(STDIN_FILENO, STDOUT_FILENO, false));
}

DebugTerminal::~DebugTerminal() {
  if (owned_) close(in_);
}

void DebugTerminal::Write(absl::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(out_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

std::optional<std::string> DebugTerminal::ReadLine() {
  std::string line;
  char c;
  while (true) {
    const ssize_t n = read(in_, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (line.empty()) return std::nullopt;
      return line;
    }
    if (c == '\n') return line;
    line.push_back(c);
  }
}

DebugPrompt::DebugPrompt(ActorCore* runtime, std::string task,
                         std::unique_ptr<DebugTerminal> terminal)
    : runtime_(runtime),
      task_(std::move(task)),
      terminal_(std::move(terminal)) {}

void DebugPrompt::Show(absl::string_view text) { terminal_->Write(text); }

DebugPrompt::Outcome DebugPrompt::Run(absl::string_view why) {
  const ActorIdentity& me = runtime_->identity();
  Show(absl::StrCat("\n-- tether debug: ", why, " in actor ", me.name, "[",
                    me.uuid, "] pid ", me.pid, ", task '", task_, "'\n",
                    kHelp));
  while (true) {
    Show(absl::StrCat("(tether ", me.name, ") "));
    std::optional<std::string> line = terminal_->ReadLine();
    if (!line.has_value()) {
      Show("\nend of input: continuing\n");
      return Outcome::kContinue;
    }
    const std::string command(absl::StripAsciiWhitespace(*line));
    if (command == "c" || command == "continue") return Outcome::kContinue;
    if (command == "q" || command == "quit") return Outcome::kQuit;
    if (command == "bt") {
      ShowBacktrace();
    } else if (command == "ctx") {
      ShowContexts();
    } else if (command == "gdb") {
      RunGdb();
    } else if (!command.empty()) {
      Show(absl::StrCat("unknown command '", command, "'; ", kHelp));
    }
  }
}

void DebugPrompt::ShowBacktrace() {
  void* frames[kMaxFrames];
  const int depth = absl::GetStackTrace(frames, kMaxFrames, /*skip_count=*/1);
  std::string text = absl::StrCat("stack of task '", task_, "':\n");
  for (int i = 0; i < depth; ++i) {
    char symbol[1024];
    const char* name = absl::Symbolize(frames[i], symbol, sizeof(symbol))
                           ? symbol
                           : "(unknown)";
    absl::StrAppendFormat(&text, "  #%-2d %p %s\n", i, frames[i], name);
  }
  Show(text);
}

void DebugPrompt::ShowContexts() {
  const std::vector<v1::ContextInfo> contexts = runtime_->DescribeContexts();
  if (contexts.empty()) {
    Show("no open contexts\n");
    return;
  }
  std::string text;
  for (const v1::ContextInfo& info : contexts) {
    absl::StrAppend(&text, "  ", info.function(), " (", SideName(info.side()),
                    ", ", StateName(info.state()), ") peer ",
                    info.peer().name(), "[", info.peer().uuid(), "] sent ",
                    info.payloads_sent(), " received ",
                    info.payloads_received(), " id ", info.context_id(), "\n");
  }
  Show(text);
}

void DebugPrompt::RunGdb() {
  // Yama may forbid attaching to a non-descendant; allow our debugger.
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  const std::string pid = absl::StrCat(getpid());
  char gdb[] = "gdb";
  char quiet[] = "-q";
  char attach[] = "-p";
  std::string pid_arg = pid;
  char* argv[] = {gdb, quiet, attach, pid_arg.data(), nullptr};
  pid_t child = 0;
  const int spawned =
      posix_spawnp(&child, "gdb", nullptr, nullptr, argv, environ);
  if (spawned != 0) {
    Show(absl::StrCat("cannot start gdb: ", strerror(spawned), "\n"));
    return;
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  Show("gdb exited; back at the tether prompt\n");
}

}  // namespace tether
