#include "runtime/actor/actor_core.h"

#include <exception>
#include <utility>

#include "absl/base/attributes.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"

namespace tether {
namespace {

// The exception being handled, boxed. Out of line, like every rare path
// below a serving task's function: a task blocks below these frames, and
// the stack pages it has touched stay resident meanwhile (a page per idle
// context, measured by BM_IdleContextBytes).
ABSL_ATTRIBUTE_NOINLINE absl::Status BoxCurrentException(
    const ActorCore& self) {
  try {
    throw;
  } catch (const std::exception& e) {
    return MakeError(BoxException(e, self.id()));
  } catch (...) {
    return MakeError(BoxUnknownException(self.id()));
  }
}

// Runs a registered function, turning a thrown exception into a boxed
// error so it reaches the opener like any other failure.
absl::StatusOr<Value> Invoke(const RegisteredFunction& function,
                             Context& context, const Value& args,
                             const ActorCore& self) {
  try {
    if (function.kind == v1::FUNCTION_KIND_PLAIN) return function.plain(args);
    return function.context(context, args);
  } catch (...) {
    return BoxCurrentException(self);
  }
}

thread_local ActorCore* tls_current = nullptr;

// Makes an actor the calling thread's current one for the scope's life; a
// task's thread runs other tasks afterwards
// (runtime/task/internal/thread_cache.h).
class ScopedCurrentActor {
 public:
  explicit ScopedCurrentActor(ActorCore* actor)
      : previous_(std::exchange(tls_current, actor)) {}
  ~ScopedCurrentActor() { tls_current = previous_; }
  ScopedCurrentActor(const ScopedCurrentActor&) = delete;
  ScopedCurrentActor& operator=(const ScopedCurrentActor&) = delete;

 private:
  ActorCore* const previous_;
};

}  // namespace

ActorCore* ActorCore::Current() { return tls_current; }

// ActorRuntime, the users' view: every one is an ActorCore.

ActorRuntime* ActorRuntime::Current() { return ActorCore::Current(); }

v1::ActorId ActorRuntime::id() const { return ActorCore::Of(*this).id(); }

v1::ActorRef ActorRuntime::ref() const { return ActorCore::Of(*this).ref(); }

v1::ActorRef ActorRuntime::parent() const {
  return ActorCore::Of(*this).parent();
}

std::vector<std::string> ActorRuntime::registry_addresses() const {
  return ActorCore::Of(*this).registry_addresses();
}

bool ActorRuntime::debug_mode() const {
  return ActorCore::Of(*this).debug_mode();
}

ActorCore::ActorCore(ActorIdentity identity, FunctionRegistry* functions)
    : identity_(std::move(identity)), functions_(functions) {
#ifdef NDEBUG
  // abseil checks lock order on every Mutex acquisition unless told not to;
  // that bookkeeping costs more than the runtime's own work per message.
  // Debug builds (every test) keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
}

ActorCore::~ActorCore() {
  CancelServing(id());
  serving_tasks_.Wait().IgnoreError();
}

v1::ActorRef ActorCore::ref() const {
  v1::ActorRef ref;
  *ref.mutable_id() = id();
  absl::MutexLock lock(&mu_);
  for (const std::string& address : addresses_) ref.add_addresses(address);
  return ref;
}

void ActorCore::SetAddresses(std::vector<std::string> addresses) {
  absl::MutexLock lock(&mu_);
  addresses_ = std::move(addresses);
}

void ActorCore::SetParent(v1::ActorRef parent) {
  absl::MutexLock lock(&mu_);
  parent_ = std::move(parent);
}

v1::ActorRef ActorCore::parent() const {
  absl::MutexLock lock(&mu_);
  return parent_;
}

void ActorCore::SetToken(TreeToken token) {
  absl::MutexLock lock(&mu_);
  token_ = std::move(token);
}

TreeToken ActorCore::token() const {
  absl::MutexLock lock(&mu_);
  return token_;
}

void ActorCore::SetRegistryAddresses(std::vector<std::string> addresses) {
  absl::MutexLock lock(&mu_);
  registry_addresses_ = std::move(addresses);
}

std::vector<std::string> ActorCore::registry_addresses() const {
  absl::MutexLock lock(&mu_);
  return registry_addresses_;
}

void ActorCore::SetDebugMode(bool debug_mode) {
  absl::MutexLock lock(&mu_);
  debug_mode_ = debug_mode;
}

bool ActorCore::debug_mode() const {
  absl::MutexLock lock(&mu_);
  return debug_mode_;
}

void ActorCore::SetRoot(v1::ActorRef root) {
  absl::MutexLock lock(&mu_);
  root_ = std::move(root);
}

v1::ActorRef ActorCore::root() const {
  {
    absl::MutexLock lock(&mu_);
    if (root_.has_id()) return root_;
  }
  return ref();
}

void ActorCore::SetStopHandler(
    std::function<void(const std::string& reason)> stop) {
  absl::MutexLock lock(&mu_);
  stop_ = std::move(stop);
}

void ActorCore::RequestStop(const std::string& reason) {
  std::function<void(const std::string&)> stop;
  {
    absl::MutexLock lock(&mu_);
    stop = stop_;
  }
  if (stop) stop(reason);
}

void ActorCore::SetPostMortem(PostMortem post_mortem) {
  absl::MutexLock lock(&mu_);
  post_mortem_ = std::move(post_mortem);
}

void ActorCore::SetChild(const v1::ChildInfo& child) {
  absl::MutexLock lock(&mu_);
  children_[child.actor().id().uuid()] = child;
}

void ActorCore::RemoveChild(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  children_.erase(uuid);
}

std::vector<v1::ChildInfo> ActorCore::DescribeChildren() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ChildInfo> children;
  children.reserve(children_.size());
  for (const auto& entry : children_) children.push_back(entry.second);
  return children;
}

void ActorCore::AddContext(const std::shared_ptr<ContextCore>& context) {
  absl::MutexLock lock(&mu_);
  contexts_.emplace(ContextKey{context->id(), context->side()}, context);
  if (context->side() == Context::Side::kOpener) {
    ++contexts_opened_;
  } else {
    ++contexts_served_;
  }
}

void ActorCore::RemoveContext(const ContextCore& context) {
  absl::MutexLock lock(&mu_);
  finished_frames_sent_ += context.frames_sent();
  finished_frames_received_ += context.frames_received();
  // Openers choose ids, so several contexts may share one: only this
  // context's entry goes (and entries of contexts already gone).
  auto [first, last] = contexts_.equal_range({context.id(), context.side()});
  for (auto it = first; it != last;) {
    std::shared_ptr<ContextCore> entry = it->second.lock();
    if (entry == nullptr || entry.get() == &context) {
      it = contexts_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<std::shared_ptr<ContextCore>> ActorCore::FindContexts(
    const std::string& id, Context::Side side) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<ContextCore>> found;
  auto [first, last] = contexts_.equal_range({id, side});
  for (auto it = first; it != last; ++it) {
    if (std::shared_ptr<ContextCore> context = it->second.lock()) {
      found.push_back(std::move(context));
    }
  }
  return found;
}

std::vector<v1::ContextInfo> ActorCore::DescribeContexts() const {
  std::vector<std::shared_ptr<ContextCore>> open;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : contexts_) {
      if (std::shared_ptr<ContextCore> context = entry.second.lock()) {
        open.push_back(std::move(context));
      }
    }
  }
  std::vector<v1::ContextInfo> infos;
  infos.reserve(open.size());
  for (const std::shared_ptr<ContextCore>& context : open) {
    infos.push_back(context->Describe());
  }
  return infos;
}

uint64_t ActorCore::contexts_opened() const {
  absl::MutexLock lock(&mu_);
  return contexts_opened_;
}

uint64_t ActorCore::contexts_served() const {
  absl::MutexLock lock(&mu_);
  return contexts_served_;
}

uint64_t ActorCore::frames_sent() const {
  return SumOverContexts(&ActorCore::finished_frames_sent_,
                         &ContextCore::frames_sent);
}

uint64_t ActorCore::frames_received() const {
  return SumOverContexts(&ActorCore::finished_frames_received_,
                         &ContextCore::frames_received);
}

uint64_t ActorCore::SumOverContexts(uint64_t ActorCore::*finished,
                                    uint64_t (ContextCore::*count)()
                                        const) const {
  absl::MutexLock lock(&mu_);
  uint64_t sum = this->*finished;
  for (const auto& entry : contexts_) {
    if (std::shared_ptr<ContextCore> context = entry.second.lock()) {
      sum += ((*context).*count)();
    }
  }
  return sum;
}

void ActorCore::SpawnServingTask(std::function<void()> call) {
  {
    absl::MutexLock lock(&mu_);
    ++serving_;
  }
  // Named after the function once the call's Start arrives.
  absl::Status spawned =
      serving_tasks_.TrySpawn("context", [this, call = std::move(call)]() {
        call();
        absl::MutexLock lock(&mu_);
        --serving_;
        return absl::OkStatus();
      });
  if (spawned.ok()) return;
  // Out of threads: the call is dropped, and with it the stream, rather
  // than the actor failing.
  TETHER_LOG(kError) << spawned.message();
  absl::MutexLock lock(&mu_);
  --serving_;
}

void ActorCore::RunServed(const std::shared_ptr<ContextCore>& context,
                          const RegisteredFunction& function,
                          const Value& args) {
  std::optional<v1::ActorId> cancelled_by;
  {
    absl::MutexLock lock(&mu_);
    cancelled_by = cancelled_by_;
  }
  if (cancelled_by.has_value()) context->CancelByRequest(*cancelled_by);
  RenameCurrentTask(function.name);
  const ScopedCurrentActor current(this);
  const ScopedLogContext log_context(function.name, context->id());
  context->BindScope(CurrentScope());
  absl::StatusOr<Value> result = Invoke(function, *context, args, *this);
  if (!result.ok()) RunPostMortem(function.name, result.status());
  context->FinishCallee(std::move(result));
}

void ActorCore::RunPostMortem(const std::string& function,
                              const absl::Status& error) {
  if (IsContextCancelled(error) || absl::IsCancelled(error)) return;
  PostMortem post_mortem;
  {
    absl::MutexLock lock(&mu_);
    post_mortem = post_mortem_;
  }
  if (post_mortem) post_mortem(function, error);
}

void ActorCore::CancelServing(const v1::ActorId& requester) {
  std::vector<std::shared_ptr<ContextCore>> served;
  v1::ActorId canceller;
  {
    absl::MutexLock lock(&mu_);
    // The first requester is the canceller of everything this actor still
    // serves, including contexts that arrive while it stops.
    if (!cancelled_by_.has_value()) cancelled_by_ = requester;
    canceller = *cancelled_by_;
    for (const auto& entry : contexts_) {
      if (entry.first.second != Context::Side::kCallee) continue;
      if (std::shared_ptr<ContextCore> context = entry.second.lock()) {
        served.push_back(std::move(context));
      }
    }
  }
  for (const std::shared_ptr<ContextCore>& context : served) {
    context->CancelByRequest(canceller);
  }
}

bool ActorCore::AwaitServingDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](int* serving) { return *serving == 0; }, &serving_),
      timeout);
}

}  // namespace tether
