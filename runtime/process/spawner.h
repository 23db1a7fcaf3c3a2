// File: runtime/process/spawner.h
//
// Starts child actors: the program's own binary (/proc/self/exe)
// re-executed in child mode, so every function compiled into the program
// exists in the child. The child reads its ChildSpec from a pipe
// (kChildSpecFdEnv names the descriptor: the spec holds the tree's token,
// which must not be in argv or the environment, where other processes
// could read it), serves, and reports its ChildReport (addresses, pid)
// through another pipe (kChildReportFdEnv). A child dies with its parent
// (PR_SET_PDEATHSIG, SIGTERM).
//
//   absl::StatusOr<std::unique_ptr<ChildProcess>> child =
//       Spawner::Get().Spawn(spec, absl::Seconds(10));
//   if (!child.ok()) { /* ActorFailure: cause and the tail of its stderr */ }
//   Portal portal(&runtime, *Address::Parse((*child)->actor().addresses(0)));
//
// Thread-safe. Children are forked from one long-lived thread, because the
// kernel's parent-death signal follows the thread that forked, not the
// process.

#ifndef TETHER_RUNTIME_PROCESS_SPAWNER_H_
#define TETHER_RUNTIME_PROCESS_SPAWNER_H_

#include <sys/types.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tether/v1/identity.pb.h"
#include "tether/v1/spawn.pb.h"

namespace tether {

// Environment of a child: the descriptor to read its serialized ChildSpec
// from (to end of file), and the one to write its serialized ChildReport
// to (then close).
inline constexpr char kChildSpecFdEnv[] = "TETHER_CHILD_SPEC_FD";
inline constexpr char kChildReportFdEnv[] = "TETHER_CHILD_REPORT_FD";

// The child's side: reads and parses the spec from `fd`, then closes it.
absl::StatusOr<v1::ChildSpec> ReadChildSpec(int fd);

// One running child process. Its stderr is copied to this process's stderr
// as it comes, and its last lines are kept for error reports. Destroying a
// ChildProcess kills (SIGKILL) and reaps the child if it still runs.
class ChildProcess {
 public:
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const v1::ActorRef& actor() const { return actor_; }

  // The last lines the child wrote to stderr. Once the child was reaped,
  // first waits (briefly) until all it wrote before it exited is copied.
  std::string StderrTail() const;

  // Sends `signal` unless the child was reaped.
  void Signal(int signal);

  // Waits up to `timeout` for the child to exit and reaps it; returns its
  // wait(2) status (at once when already reaped). DeadlineExceeded while it
  // still runs.
  absl::StatusOr<int> WaitExit(absl::Duration timeout);

  // "exit code 3", "signal 9 (Killed)".
  static std::string DescribeExit(int wait_status);

 private:
  friend class Spawner;
  ChildProcess(pid_t pid, int stderr_fd);
  void CopyStderr(int fd);
  // Nothing the child wrote is still unread or being copied.
  bool StderrCopiedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const pid_t pid_;
  v1::ActorRef actor_;
  std::thread stderr_copier_;

  mutable absl::Mutex mu_;
  std::deque<std::string> tail_ ABSL_GUARDED_BY(mu_);
  std::string partial_line_ ABSL_GUARDED_BY(mu_);
  // The copier's end of the child's stderr, -1 once closed; whether the
  // copier holds a chunk it has not added to tail_ yet.
  int stderr_fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool stderr_reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;
  int wait_status_ ABSL_GUARDED_BY(mu_) = 0;
};

class Spawner {
 public:
  // The process's spawner; its fork thread lives as long as the process.
  static Spawner& Get();

  // Starts a child with `spec` and waits up to `timeout` for its report.
  // A child that exits, dies of a signal or does not report in time is
  // killed and reaped, and the result is an ActorFailure error naming the
  // child, the cause and the tail of its stderr.
  absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const v1::ChildSpec& spec,
                                                      absl::Duration timeout);

  // Sends SIGKILL to every child of this process that still runs: the
  // hurry path when this process itself is being terminated and cannot
  // wait for graceful escalation. Their supervisors still reap them.
  void KillAllChildren();

 private:
  friend class ChildProcess;
  void Forget(ChildProcess* child);

  Spawner();

  // Runs `job` on the fork thread and waits for it.
  void OnForkThread(std::function<void()> job);
  void ForkThreadLoop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  // Children not yet destroyed, for KillAllChildren.
  std::vector<ChildProcess*> live_ ABSL_GUARDED_BY(mu_);
  // Never joined: the fork thread must outlive every child it forked.
  std::thread fork_thread_;
};

}  // namespace tether

#endif  // TETHER_RUNTIME_PROCESS_SPAWNER_H_
