// File: runtime/actor/actor_core.h
//
// The state of one actor process that every layer shares: who it is, where
// it listens, which functions it serves, which contexts are open, and the
// tasks that serve its peers. Users see it as the ActorRuntime of
// tether/actor_runtime.h, whose methods read it.
//
//   ActorCore runtime(*ActorIdentity::Create("worker"));
//   runtime.SetAddresses({"127.0.0.1:41234"});       // once the server binds
//   runtime.SpawnServingTask([call] { call->Serve(); });  // a call came
//   runtime.RunServed(ctx, function, args);  // on that task, once accepted
//   runtime.CancelServing(requester);                // Actor/Cancel
//
// Thread-safe.

#ifndef TETHER_RUNTIME_ACTOR_ACTOR_CORE_H_
#define TETHER_RUNTIME_ACTOR_ACTOR_CORE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/tree_token.h"
#include "runtime/context/context_core.h"
#include "tether/actor_runtime.h"
#include "tether/function_registry.h"
#include "tether/task.h"
#include "tether/v1/actor.pb.h"

namespace tether {

class ActorCore final : public ActorRuntime {
 public:
  explicit ActorCore(ActorIdentity identity,
                     FunctionRegistry* functions = &FunctionRegistry::Global());
  // Cancels every serving task (canceller: this actor) and joins them.
  ~ActorCore();

  // The core of `runtime`, which every ActorRuntime is.
  static ActorCore& Of(ActorRuntime& runtime) {
    return static_cast<ActorCore&>(runtime);
  }
  static const ActorCore& Of(const ActorRuntime& runtime) {
    return static_cast<const ActorCore&>(runtime);
  }

  // The actor whose serving task is calling, or null outside serving tasks:
  // lets a function act as its actor (e.g. open contexts to peers).
  static ActorCore* Current();

  const ActorIdentity& identity() const { return identity_; }
  v1::ActorId id() const { return identity_.ToProto(); }
  // The identity plus the addresses set so far.
  v1::ActorRef ref() const;
  void SetAddresses(std::vector<std::string> addresses);
  // The supervising parent (unset for roots and standalone nodes).
  void SetParent(v1::ActorRef parent);
  v1::ActorRef parent() const;
  // The registries this actor registers with and looks names up in,
  // passed on to its children: gRPC targets of Registrar services or
  // etcd://host:port URLs.
  void SetRegistryAddresses(std::vector<std::string> addresses);
  // The tree's secret (runtime/base/tree_token.h): what this actor's server
  // admits and its clients present. A new ActorCore has a fresh one, a
  // tree of its own; set the tree's before serving.
  void SetToken(TreeToken token);
  TreeToken token() const;
  std::vector<std::string> registry_addresses() const;
  FunctionRegistry& functions() const { return *functions_; }

  // Debug mode (a whole tree's setting, see tether/debugger.h) and the
  // tree's root, whose Debug service holds the TTY lock. root() is this
  // actor's own ref when none was set.
  void SetDebugMode(bool debug_mode);
  bool debug_mode() const;
  void SetRoot(v1::ActorRef root);
  v1::ActorRef root() const;

  // How to stop this actor (set by whatever runs it, e.g. app/serve.h);
  // RequestStop runs it, or does nothing when none is set.
  void SetStopHandler(std::function<void(const std::string& reason)> stop);
  void RequestStop(const std::string& reason);

  // Runs in a serving task whose function failed, before the error goes to
  // the opener (debug mode's post-mortem prompt). Not called for
  // cancellations.
  using PostMortem =
      std::function<void(const std::string& function, const absl::Status&)>;
  void SetPostMortem(PostMortem post_mortem);

  // Children this actor supervises, by uuid, for Actor/Info. Set replaces
  // an entry of the same uuid.
  void SetChild(const v1::ChildInfo& child);
  void RemoveChild(const std::string& uuid);
  std::vector<v1::ChildInfo> DescribeChildren() const;

  // Open contexts, both sides, for Actor/Signal and Actor/Info. Remove a
  // context once its stream is done: its frame counts join the totals.
  void AddContext(const std::shared_ptr<ContextCore>& context);
  void RemoveContext(const ContextCore& context);
  // The open contexts `id` on `side`: openers choose ids, so two of them
  // may have chosen the same; their signal keys tell them apart.
  std::vector<std::shared_ptr<ContextCore>> FindContexts(
      const std::string& id, Context::Side side) const;
  std::vector<v1::ContextInfo> DescribeContexts() const;
  uint64_t contexts_opened() const;
  uint64_t contexts_served() const;
  // Frames written and read by every context stream so far, open or done.
  uint64_t frames_sent() const;
  uint64_t frames_received() const;

  // Runs `call` (one incoming context call, from its first frame to its
  // end) as a serving task: CancelServing cancels it. When no thread can be
  // started, `call` is dropped, which ends the call.
  void SpawnServingTask(std::function<void()> call);

  // On a serving task: runs `function` for the callee context `context`.
  // The task, renamed after the function, cancels the context when it is
  // cancelled; a thrown exception is boxed; the result becomes the
  // context's final frame. A context that arrives while the actor stops is
  // cancelled at once, by whoever cancelled the actor.
  void RunServed(const std::shared_ptr<ContextCore>& context,
                 const RegisteredFunction& function, const Value& args);

  // Cancels every serving task; each open context ends with
  // ContextCancelled naming `requester` (the first requester, when called
  // more than once), and so do contexts served afterwards. Non-blocking.
  void CancelServing(const v1::ActorId& requester);

  // Waits up to `timeout` for every serving task to end; false on timeout.
  bool AwaitServingDone(absl::Duration timeout);

 private:
  // `finished` (a finished_frames_* total) plus `count` of every open
  // context.
  uint64_t SumOverContexts(uint64_t ActorCore::*finished,
                           uint64_t (ContextCore::*count)() const) const;
  using ContextKey = std::pair<std::string, Context::Side>;

  // Hands a serving task's failure, unless it is a cancellation, to the
  // post-mortem hook. Out of line: see BoxCurrentException in the .cc.
  ABSL_ATTRIBUTE_NOINLINE void RunPostMortem(const std::string& function,
                                             const absl::Status& error);

  const ActorIdentity identity_;
  FunctionRegistry* const functions_;

  mutable absl::Mutex mu_;
  std::vector<std::string> addresses_ ABSL_GUARDED_BY(mu_);
  v1::ActorRef parent_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> registry_addresses_ ABSL_GUARDED_BY(mu_);
  TreeToken token_ ABSL_GUARDED_BY(mu_) = TreeToken::Generate();
  bool debug_mode_ ABSL_GUARDED_BY(mu_) = false;
  v1::ActorRef root_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&)> stop_ ABSL_GUARDED_BY(mu_);
  PostMortem post_mortem_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::ChildInfo> children_ ABSL_GUARDED_BY(mu_);
  std::multimap<ContextKey, std::weak_ptr<ContextCore>> contexts_
      ABSL_GUARDED_BY(mu_);
  uint64_t contexts_opened_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t contexts_served_ ABSL_GUARDED_BY(mu_) = 0;
  // Frames of removed contexts; open ones are summed when asked.
  uint64_t finished_frames_sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t finished_frames_received_ ABSL_GUARDED_BY(mu_) = 0;
  int serving_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<v1::ActorId> cancelled_by_ ABSL_GUARDED_BY(mu_);

  // Declared last: destroyed (joined) first, while the rest is intact.
  TaskGroup serving_tasks_;
};

}  // namespace tether

#endif  // TETHER_RUNTIME_ACTOR_ACTOR_CORE_H_
