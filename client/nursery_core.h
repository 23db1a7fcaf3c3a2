// File: client/nursery_core.h
//
// NurseryCore: an actor nursery's state and supervision (tether/nursery.h
// has the rules). Users hold it as the ActorNursery their block receives,
// whose methods forward here.
//
//   absl::Status status = NurseryCore::Open(
//       &runtime, [](ActorNursery& nursery) { ... }, Escalation());
//
// Thread-safe: tasks of the block may start children concurrently.

#ifndef TETHER_CLIENT_NURSERY_CORE_H_
#define TETHER_CLIENT_NURSERY_CORE_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "runtime/actor/actor_core.h"
#include "runtime/task/wait.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/task.h"
#include "tether/v1/actor.pb.h"
#include "tether/value.h"

namespace tether {

class NurseryCore final : public ActorNursery {
 public:
  // ActorNursery::Open.
  static absl::Status Open(ActorCore* self, const Block& block,
                           const Escalation& escalation);

  ~NurseryCore();

  // The core of `nursery`, which every ActorNursery is.
  static NurseryCore& Of(ActorNursery& nursery) {
    return static_cast<NurseryCore&>(nursery);
  }

  // --- ActorNursery's API, which forwards here: tether/nursery.h has the
  // contracts ---

  absl::StatusOr<Portal*> StartActor(absl::string_view name,
                                     const ActorOptions& options = {});
  absl::StatusOr<Portal*> RunInActor(absl::string_view name,
                                     absl::string_view function, Value args,
                                     const ActorOptions& options = {});
  absl::StatusOr<Value> WaitResult(Portal* portal);
  void CancelAll();

 private:
  struct Child;

  NurseryCore(ActorCore* self, const Escalation& escalation);

  // `child` as Actor/Info lists it.
  static v1::ChildInfo ChildInfoOf(const Child& child,
                                   v1::ChildInfo::State state);

  absl::StatusOr<std::shared_ptr<Child>> Spawn(absl::string_view name,
                                               const ActorOptions& options);
  // Waits for `child`'s process to exit and records an unexpected death.
  void Watch(std::shared_ptr<Child> child);
  // Cancel request, SIGTERM, SIGKILL, until `child` has exited.
  void Teardown(const std::shared_ptr<Child>& child);
  // Records a failure and cancels every child (one-cancels-all).
  void Fail(absl::Status error);
  // Records a failure unless it is recorded already.
  void AddErrorLocked(absl::Status error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until every child has exited; a cancellation point.
  absl::Status AwaitAllExited();
  bool AllExitedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Child> FindLocked(const Portal* portal) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ActorCore* const self_;
  const Escalation escalation_;

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Child>> children_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  bool cancelling_all_ ABSL_GUARDED_BY(mu_) = false;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  // Watchers (one per child) and teardowns; joined when the nursery ends.
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  // RunInActor calls.
  TaskGroup jobs_;
};

}  // namespace tether

#endif  // TETHER_CLIENT_NURSERY_CORE_H_
