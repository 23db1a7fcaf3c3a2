#include "client/debug/prompt_watch.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"
#include "runtime/base/log.h"
#include "runtime/debug/tty_lock.h"
#include "tether/v1/debug.grpc.pb.h"

namespace tether {
namespace {

// The parent of `pid` by /proc/PID/stat, or 0 when it has none or is gone.
pid_t ParentOf(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  // "PID (COMMAND) STATE PPID ...": the command may hold spaces and ')'.
  const size_t end_of_command = text.rfind(')');
  if (end_of_command == std::string::npos) return 0;
  int state_end = 0;
  char state = 0;
  int parent = 0;
  if (std::sscanf(text.c_str() + end_of_command + 1, " %c %d%n", &state,
                  &parent, &state_end) < 2) {
    return 0;
  }
  return parent;
}

absl::StatusOr<v1::DebugStatus> AskRoot(v1::Debug::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + PromptWatch::kStatusTimeout));
  v1::DebugStatus status;
  const grpc::Status answer =
      stub.Status(&context, v1::DebugStatusRequest(), &status);
  if (!answer.ok()) return ToAbslStatus(answer);
  return status;
}

}  // namespace

bool IsSameOrDescendant(pid_t pid, pid_t ancestor) {
  // The chain ends at init (1) or the idle task (0); a bound guards
  // against a cycle read from a racing /proc.
  for (int depth = 0; pid > 1 && depth < 4096; ++depth) {
    if (pid == ancestor) return true;
    pid = ParentOf(pid);
  }
  return pid == ancestor;
}

std::unique_ptr<PromptWatch> PromptWatch::For(const ActorCore& self) {
  if (!self.debug_mode()) return nullptr;
  if (TtyLock* hosted = TtyLock::Hosted(); hosted != nullptr) {
    return std::make_unique<PromptWatch>(
        [hosted]() -> absl::StatusOr<v1::DebugStatus> {
          return hosted->Status();
        });
  }
  const v1::ActorRef root = self.root();
  if (root.addresses().empty()) {
    return std::make_unique<PromptWatch>(
        []() -> absl::StatusOr<v1::DebugStatus> {
          return absl::FailedPreconditionError("the root's address is unknown");
        });
  }
  std::shared_ptr<v1::Debug::Stub> stub =
      v1::Debug::NewStub(DialTree(root.addresses(0), self.token()));
  return std::make_unique<PromptWatch>(
      [stub]() -> absl::StatusOr<v1::DebugStatus> { return AskRoot(*stub); });
}

PromptWatch::PromptWatch(StatusSource source) : source_(std::move(source)) {}

bool PromptWatch::AwaitIdle(absl::Time deadline) const {
  return AwaitFree(
      [](const v1::DebugStatus& status) {
        return !status.has_holder() && status.waiters().empty();
      },
      deadline);
}

bool PromptWatch::AwaitNotHeldUnder(pid_t pid, absl::Time deadline) const {
  return AwaitFree(
      [pid](const v1::DebugStatus& status) {
        return !status.has_holder() ||
               !IsSameOrDescendant(static_cast<pid_t>(status.holder().pid()),
                                   pid);
      },
      deadline);
}

bool PromptWatch::AwaitFree(
    const std::function<bool(const v1::DebugStatus&)>& free,
    absl::Time deadline) const {
  while (true) {
    const absl::StatusOr<v1::DebugStatus> status = source_();
    if (!status.ok()) {
      TETHER_LOG(kWarning) << "cannot ask the root who is at the debug "
                              "prompt ("
                           << status.status().message()
                           << "); tearing down as outside debug mode";
      return true;
    }
    if (free(*status)) return true;
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    // Nothing to wake on across processes: look again shortly.
    absl::SleepFor(std::min(deadline - now, kPollInterval));
  }
}

}  // namespace tether
