#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/debug/prompt_watch.h"
#include "client/nursery_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/base/uuid.h"
#include "runtime/process/spawner.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"

namespace tether {

// --- ActorNursery: the users' view, forwarded to its core ---

absl::Status ActorNursery::Open(ActorRuntime* self, const Block& block,
                                const Escalation& escalation) {
  return NurseryCore::Open(&ActorCore::Of(*self), block, escalation);
}

absl::StatusOr<Portal*> ActorNursery::StartActor(absl::string_view name,
                                                 const ActorOptions& options) {
  return NurseryCore::Of(*this).StartActor(name, options);
}

absl::StatusOr<Portal*> ActorNursery::RunInActor(absl::string_view name,
                                                 absl::string_view function,
                                                 Value args,
                                                 const ActorOptions& options) {
  return NurseryCore::Of(*this).RunInActor(name, function, std::move(args),
                                           options);
}

absl::StatusOr<Value> ActorNursery::WaitResult(Portal* portal) {
  return NurseryCore::Of(*this).WaitResult(portal);
}

void ActorNursery::CancelAll() { NurseryCore::Of(*this).CancelAll(); }

// --- The nursery's core ---

struct NurseryCore::Child {
  std::string name;
  v1::ActorId id;
  std::unique_ptr<ChildProcess> process;
  std::unique_ptr<Portal> portal;
  // Guarded by the nursery's mu_.
  bool exited = false;
  bool cancel_requested = false;
  // Teardown sent it SIGTERM (and maybe SIGKILL): dying of those is not
  // a failure of its own.
  bool escalated = false;
  // Its RunInActor call broke (TransportClosed) and that failed the
  // nursery. Should the child turn out to have died on its own, its death
  // replaces this symptom among the nursery's errors.
  std::optional<absl::Status> broken_call;
  // Its death, once it is among the nursery's errors.
  std::optional<absl::Status> death_in_error;
  std::optional<absl::StatusOr<Value>> result;
};

namespace {

std::string Describe(const v1::ActorId& id) {
  return absl::StrCat(id.name(), "[", id.uuid().substr(0, 8), "]");
}

}  // namespace

v1::ChildInfo NurseryCore::ChildInfoOf(const Child& child,
                                       v1::ChildInfo::State state) {
  v1::ChildInfo info;
  *info.mutable_actor() = child.process->actor();
  info.set_pid(child.process->pid());
  info.set_state(state);
  return info;
}

absl::Status NurseryCore::Open(ActorCore* self, const Block& block,
                               const Escalation& escalation) {
  NurseryCore nursery(self, escalation);
  absl::Status block_status;
  try {
    block_status = block(nursery);
  } catch (const std::exception& e) {
    block_status = MakeError(BoxException(e, self->id()));
  } catch (...) {
    block_status = MakeError(BoxUnknownException(self->id()));
  }
  if (!block_status.ok()) nursery.Fail(block_status);
  // Daemons live until cancelled; a cancellation of this task ends them.
  // (A block that failed was usually cancelled the same way: one error.)
  const absl::Status waited = nursery.AwaitAllExited();
  if (!waited.ok() && block_status.ok()) nursery.Fail(waited);
  if (!waited.ok()) nursery.CancelAll();
  nursery.jobs_.Wait().IgnoreError();
  {
    absl::MutexLock lock(&nursery.mu_);
    nursery.mu_.Await(absl::Condition(
        +[](NurseryCore* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(n->mu_) {
          return n->AllExitedLocked();
        },
        &nursery));
  }
  std::vector<absl::Status> errors;
  {
    absl::MutexLock lock(&nursery.mu_);
    errors = nursery.errors_;
  }
  return ErrorGroup(std::move(errors), self->id());
}

NurseryCore::NurseryCore(ActorCore* self, const Escalation& escalation)
    : self_(self), escalation_(escalation) {}

NurseryCore::~NurseryCore() {
  std::vector<std::thread> threads;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (threads_.empty()) break;
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
    threads.clear();
  }
}

absl::StatusOr<Portal*> NurseryCore::StartActor(absl::string_view name,
                                                const ActorOptions& options) {
  absl::StatusOr<std::shared_ptr<Child>> child = Spawn(name, options);
  if (!child.ok()) return child.status();
  return (*child)->portal.get();
}

absl::StatusOr<Portal*> NurseryCore::RunInActor(absl::string_view name,
                                                absl::string_view function,
                                                Value args,
                                                const ActorOptions& options) {
  absl::StatusOr<std::shared_ptr<Child>> spawned = Spawn(name, options);
  if (!spawned.ok()) {
    Fail(spawned.status());
    return spawned.status();
  }
  std::shared_ptr<Child> child = *std::move(spawned);
  jobs_.Spawn(absl::StrCat("run_in_actor:", name), [this, child,
                                                    function =
                                                        std::string(function),
                                                    args = std::move(args)]() {
    absl::StatusOr<Value> result = child->portal->Run(function, args);
    bool failed;
    {
      absl::MutexLock lock(&mu_);
      // A call the nursery itself cancelled (one-cancels-all) is not an
      // error of its own.
      const std::optional<v1::ErrorInfo> info = GetErrorInfo(result.status());
      const bool cancelled_by_us =
          cancelling_all_ &&
          (!info.has_value() ||
           info->kind() == v1::ERROR_KIND_TRANSPORT_CLOSED ||
           (info->kind() == v1::ERROR_KIND_CONTEXT_CANCELLED &&
            SameActor(info->canceller(), self_->id())));
      // Nor is a broken call to a child whose death is already the error;
      // the death is then its result too (WaitResult).
      const bool symptom_of_death = child->death_in_error.has_value() &&
                                    IsTransportClosed(result.status());
      child->result = symptom_of_death
                          ? absl::StatusOr<Value>(*child->death_in_error)
                          : result;
      waiters_.NotifyAll();
      failed = !result.ok() && !cancelled_by_us && !symptom_of_death;
      // Recorded in the same step as the error, so that Watch, which may
      // learn of the child's death any moment now, sees both.
      if (failed) AddErrorLocked(result.status());
      if (failed && IsTransportClosed(result.status())) {
        child->broken_call = result.status();
      }
    }
    if (failed) {
      TETHER_LOG(kInfo) << "actor nursery failing: "
                        << result.status().message();
      CancelAll();
    } else {
      Teardown(child);
    }
    return absl::OkStatus();
  });
  return child->portal.get();
}

absl::StatusOr<Value> NurseryCore::WaitResult(Portal* portal) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Child> child = FindLocked(portal);
  if (child == nullptr) {
    return absl::NotFoundError("no RunInActor child of this nursery");
  }
  absl::Status waited = AwaitLocked(
      mu_, waiters_,
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return child->result.has_value() || child->exited;
      },
      absl::InfiniteFuture());
  if (!waited.ok()) return waited;
  // A child that died in error: its death is the result, also when its
  // call has not ended yet or ended with the broken stream.
  if (child->death_in_error.has_value() &&
      (!child->result.has_value() ||
       IsTransportClosed(child->result->status()))) {
    return *child->death_in_error;
  }
  if (!child->result.has_value()) {
    return ActorFailureError(child->id, absl::StrCat(Describe(child->id),
                                                     " exited before its "
                                                     "function returned"));
  }
  return *child->result;
}

void NurseryCore::CancelAll() {
  std::vector<std::shared_ptr<Child>> live;
  {
    absl::MutexLock lock(&mu_);
    cancelling_all_ = true;
    for (const std::shared_ptr<Child>& child : children_) {
      if (!child->exited && !child->cancel_requested) live.push_back(child);
    }
  }
  // Every child at once: a tree tears down level by level in parallel.
  for (const std::shared_ptr<Child>& child : live) {
    std::thread teardown([this, child] { Teardown(child); });
    absl::MutexLock lock(&mu_);
    threads_.push_back(std::move(teardown));
  }
}

absl::StatusOr<std::shared_ptr<NurseryCore::Child>> NurseryCore::Spawn(
    absl::string_view name, const ActorOptions& options) {
  {
    absl::MutexLock lock(&mu_);
    if (cancelling_all_) {
      return absl::FailedPreconditionError(
          "the actor nursery is cancelling; no new children");
    }
  }
  if (absl::Status valid = ValidateActorName(name); !valid.ok()) return valid;
  v1::ChildSpec spec;
  spec.mutable_id()->set_name(std::string(name));
  spec.mutable_id()->set_uuid(NewUuid());
  *spec.mutable_parent() = self_->ref();
  spec.set_listen(options.listen);
  for (const std::string& registry : self_->registry_addresses()) {
    spec.add_registry_addresses(registry);
  }
  spec.set_debug_mode(self_->debug_mode());
  spec.set_token(self_->token().SecretForTransfer());
  *spec.mutable_root() = self_->root();
  spec.set_log_level(LogEnabled(LogLevel::kDebug)  ? "debug"
                     : LogEnabled(LogLevel::kInfo) ? "info"
                                                   : "warning");
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      Spawner::Get().Spawn(spec, options.spawn_timeout);
  if (!process.ok()) return process.status();
  absl::StatusOr<Address> address =
      Address::Parse((*process)->actor().addresses(0));
  if (!address.ok()) return address.status();

  auto child = std::make_shared<Child>();
  child->name = std::string(name);
  child->id = spec.id();
  child->process = *std::move(process);
  child->portal = std::make_unique<Portal>(self_, *address);
  self_->SetChild(ChildInfoOf(*child, v1::ChildInfo::STATE_RUNNING));
  TETHER_LOG(kInfo) << "started child " << Describe(child->id) << " (pid "
                    << child->process->pid() << ") on " << address->ToString();
  std::thread watcher([this, child] { Watch(child); });
  absl::MutexLock lock(&mu_);
  children_.push_back(child);
  threads_.push_back(std::move(watcher));
  if (cancelling_all_) {
    threads_.push_back(std::thread([this, child] { Teardown(child); }));
  }
  return child;
}

void NurseryCore::Watch(std::shared_ptr<Child> child) {
  const absl::StatusOr<int> status =
      child->process->WaitExit(absl::InfiniteDuration());
  self_->RemoveChild(child->id.uuid());
  const bool clean =
      status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
  std::optional<absl::Status> death;
  if (!clean) {
    const std::string tail = child->process->StderrTail();
    death = ActorFailureError(
        child->id,
        absl::StrCat("child ", Describe(child->id), " died: ",
                     status.ok() ? ChildProcess::DescribeExit(*status)
                                 : std::string(status.status().message()),
                     tail.empty() ? "" : "; its stderr ends with:\n", tail));
  }
  bool unexpected = false;
  {
    absl::MutexLock lock(&mu_);
    const bool killed_by_us =
        child->escalated && status.ok() && WIFSIGNALED(*status) &&
        (WTERMSIG(*status) == SIGTERM || WTERMSIG(*status) == SIGKILL);
    // Recorded together with `exited`, so whoever sees every child gone
    // also sees this failure.
    if (death.has_value() && !killed_by_us && child->broken_call.has_value()) {
      // Its call broke because it died: the cause replaces the symptom
      // (the nursery is cancelling already, because of that symptom).
      std::replace(errors_.begin(), errors_.end(), *child->broken_call, *death);
      child->death_in_error = death;
      // Later WaitResult calls get the cause as well; one made earlier
      // passes the symptom on, which AddErrorLocked drops.
      child->result = *death;
    } else if (death.has_value() && !child->cancel_requested &&
               !cancelling_all_) {
      unexpected = true;
      errors_.push_back(*death);
      child->death_in_error = death;
    }
    child->exited = true;
    waiters_.NotifyAll();
  }
  if (unexpected) {
    TETHER_LOG(kInfo) << "actor nursery failing: " << death->message();
    CancelAll();
  }
}

void NurseryCore::Teardown(const std::shared_ptr<Child>& child) {
  {
    absl::MutexLock lock(&mu_);
    if (child->exited || child->cancel_requested) return;
    child->cancel_requested = true;
  }
  self_->SetChild(ChildInfoOf(*child, v1::ChildInfo::STATE_CANCELLING));
  const std::string who = Describe(child->id);
  auto exited_within = [&](absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&child->exited), timeout);
  };
  // Debug mode, in every nursery of the tree: no child is cancelled while
  // someone is at the prompt, and no child is signalled while it or one of
  // its descendants holds the terminal.
  const std::unique_ptr<PromptWatch> prompt = PromptWatch::For(*self_);
  if (prompt != nullptr && !prompt->AwaitIdle(absl::Now())) {
    TETHER_LOG(kInfo) << "waiting for the debug prompt to finish before "
                         "cancelling child "
                      << who;
    prompt->AwaitIdle(absl::InfiniteFuture());
  }
  TETHER_LOG(kInfo) << "cancelling child " << who;
  child->portal->CancelActor(escalation_.cancel_timeout).IgnoreError();
  if (exited_within(escalation_.cancel_timeout)) return;
  const pid_t pid = child->process->pid();
  if (prompt != nullptr && !prompt->AwaitNotHeldUnder(pid, absl::Now())) {
    TETHER_LOG(kInfo) << "child " << who
                      << " or a descendant is at the debug prompt; "
                         "escalation waits for it";
    prompt->AwaitNotHeldUnder(pid, absl::InfiniteFuture());
    if (exited_within(escalation_.cancel_timeout)) return;
  }
  TETHER_LOG(kWarning) << "child " << who << " still runs "
                       << escalation_.cancel_timeout
                       << " after its cancel request; sending SIGTERM";
  {
    absl::MutexLock lock(&mu_);
    child->escalated = true;
  }
  child->process->Signal(SIGTERM);
  if (exited_within(escalation_.terminate_timeout)) return;
  TETHER_LOG(kWarning) << "child " << who << " still runs "
                       << escalation_.terminate_timeout
                       << " after SIGTERM; sending SIGKILL";
  child->process->Signal(SIGKILL);
  exited_within(absl::InfiniteDuration());
}

void NurseryCore::Fail(absl::Status error) {
  TETHER_LOG(kInfo) << "actor nursery failing: " << error.message();
  {
    absl::MutexLock lock(&mu_);
    AddErrorLocked(std::move(error));
  }
  CancelAll();
}

void NurseryCore::AddErrorLocked(absl::Status error) {
  if (std::find(errors_.begin(), errors_.end(), error) != errors_.end()) {
    return;
  }
  // A block that passes on a broken call's status (WaitResult) adds
  // nothing: it is in errors_ already, or its child's death replaced it.
  for (const std::shared_ptr<Child>& child : children_) {
    if (child->broken_call == error) return;
  }
  errors_.push_back(std::move(error));
}

absl::Status NurseryCore::AwaitAllExited() {
  absl::MutexLock lock(&mu_);
  return AwaitLocked(
      mu_, waiters_,
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return AllExitedLocked(); },
      absl::InfiniteFuture());
}

bool NurseryCore::AllExitedLocked() const {
  for (const std::shared_ptr<Child>& child : children_) {
    if (!child->exited) return false;
  }
  return true;
}

std::shared_ptr<NurseryCore::Child> NurseryCore::FindLocked(
    const Portal* portal) const {
  for (const std::shared_ptr<Child>& child : children_) {
    if (child->portal.get() == portal) return child;
  }
  return nullptr;
}

}  // namespace tether
