#include "tether/debugger.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/debug/debug_lock.h"
#include "client/debug/debug_prompt.h"
#include "client/debug/post_mortem.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/log.h"
#include "runtime/task/wait.h"
#include "tether/address.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/task.h"

namespace tether {
namespace {

std::string TaskName() {
  const std::string& name = CurrentTaskName();
  return name.empty() ? "main" : name;
}

absl::StatusOr<std::unique_ptr<DebugLockHold>> Acquire(
    ActorCore& self, v1::DebugLockRequest::Reason reason) {
  const v1::ActorRef root = self.root();
  if (root.addresses().empty()) {
    return absl::FailedPreconditionError(
        "the root's address is unknown: the debug lock cannot be reached");
  }
  TETHER_ASSIGN_OR_RETURN(Address address, Address::Parse(root.addresses(0)));
  v1::DebugLockRequest request;
  *request.mutable_requester() = self.id();
  request.set_pid(self.identity().pid);
  request.set_task(TaskName());
  request.set_reason(reason);
  return AcquireDebugLock(address, request, self.token());
}

}  // namespace

absl::Status Pause() {
  ActorCore* self = ActorCore::Current();
  if (self == nullptr) {
    return absl::FailedPreconditionError(
        "Pause() without an actor: call it from a serving task, or pass the "
        "actor (Pause(runtime))");
  }
  return Pause(*self);
}

absl::Status Pause(ActorRuntime& runtime) {
  ActorCore& self = ActorCore::Of(runtime);
  if (!self.debug_mode()) {
    return absl::FailedPreconditionError(
        "Pause() needs debug mode (RootOptions::debug_mode or --debug)");
  }
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<DebugLockHold> hold,
                          Acquire(self, v1::DebugLockRequest::REASON_PAUSE));
  DebugPrompt prompt(&self, TaskName(), DebugTerminal::Open());
  const DebugPrompt::Outcome outcome = prompt.Run("paused");
  hold->Release();
  if (outcome == DebugPrompt::Outcome::kQuit) {
    self.RequestStop("quit at the debug prompt");
    return absl::CancelledError("quit at the debug prompt");
  }
  return absl::OkStatus();
}

void InstallPostMortem(ActorCore* runtime) {
  runtime->SetPostMortem([runtime](const std::string& function,
                                   const absl::Status& error) {
    absl::StatusOr<std::unique_ptr<DebugLockHold>> hold =
        Acquire(*runtime, v1::DebugLockRequest::REASON_POST_MORTEM);
    if (!hold.ok()) {
      TETHER_LOG(kWarning) << "no post-mortem prompt for " << function << ": "
                           << hold.status().message();
      return;
    }
    DebugPrompt prompt(runtime, TaskName(), DebugTerminal::Open());
    std::string report = absl::StrCat("\n-- tether debug: ", function,
                                      " failed: ", DescribeError(error), "\n");
    if (std::optional<v1::ErrorInfo> info = GetErrorInfo(error);
        info.has_value() && !info->trace().empty()) {
      absl::StrAppend(&report, info->trace(), "\n");
    }
    prompt.Show(report);
    const DebugPrompt::Outcome outcome = prompt.Run("post-mortem");
    (*hold)->Release();
    if (outcome == DebugPrompt::Outcome::kQuit) {
      runtime->RequestStop("quit at the debug prompt");
    }
  });
}

}  // namespace tether
