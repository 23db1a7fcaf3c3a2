// File: tests/support/process_tree.h
//
// Multi-process test support for whole actor trees: a root program run as a
// child of the test with its stdout and stderr captured, and /proc scans
// that find every process of the tree (children, grandchildren, orphans)
// so a test can assert that none outlives it.
//
//   ASSERT_TRUE(BecomeSubreaper().ok());  // orphans of the tree come to us
//   absl::StatusOr<std::unique_ptr<RootProcess>> root = RootProcess::Start(
//       RunfilePath("tests/tree_root"), {"--scenario=tree"});
//   ASSERT_TRUE((*root)->WaitForStdout("tree ready", absl::Seconds(20)));
//   std::vector<ProcessEntry> tree = ListDescendants((*root)->pid());
//   (*root)->Signal(SIGINT);
//   absl::StatusOr<int> status = (*root)->WaitExit(absl::Seconds(2));
//   EXPECT_TRUE(WaitUntilGone(tree, absl::Now() + absl::Seconds(2)).empty());
//
// Not thread-safe, except RootProcess's output accessors, which a reader
// thread fills concurrently.

#ifndef TETHER_TESTS_SUPPORT_PROCESS_TREE_H_
#define TETHER_TESTS_SUPPORT_PROCESS_TREE_H_

#include <sys/types.h>

#include <cstdint>
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
#include "absl/time/time.h"
#include "tests/support/spawned_process.h"

namespace tether {

// One line of /proc/PID/stat, the fields a tree check needs.
struct ProcessEntry {
  pid_t pid = 0;
  pid_t ppid = 0;
  // R, S, D, Z, ...
  char state = '?';
  // Clock ticks after boot; tells a process from a later one with its pid.
  uint64_t start_time = 0;
  // /proc/PID/cmdline, arguments joined by spaces (children of a Tether
  // program show as "tether-child:NAME").
  std::string cmdline;
};

// The process `pid`, or nullopt once it has no /proc entry.
std::optional<ProcessEntry> ReadProcess(pid_t pid);

// Every descendant of `ancestor` (children, their children, ...), found by
// following PPid through one scan of /proc. Zombies are included.
std::vector<ProcessEntry> ListDescendants(pid_t ancestor);

// "pid (state) cmdline" per process, one a line, for failure messages.
std::string DescribeProcesses(const std::vector<ProcessEntry>& processes);

// Makes the calling process a child subreaper (PR_SET_CHILD_SUBREAPER):
// descendants orphaned by a dying actor are re-parented to the test, not to
// init, so ListDescendants(getpid()) still finds them and the test can reap
// them (this machine's init does not).
absl::Status BecomeSubreaper();

// Reaps every child of the calling process that is a zombie, except the
// roots a RootProcess owns (it reaps them itself). Returns their pids:
// processes whose own parent died before reaping them.
std::vector<pid_t> ReapAdoptedZombies();

// Whether `process` has exited and been reaped (its /proc entry is gone or
// belongs to a later process). A zombie has exited but is not gone: its
// parent has yet to reap it.
bool IsGone(const ProcessEntry& process);

// Waits until every process in `processes` is gone, reaping zombies the
// test adopted (their pids are appended to `adopted` if given), up to
// `deadline`. Returns the ones still there.
std::vector<ProcessEntry> WaitUntilGone(
    const std::vector<ProcessEntry>& processes, absl::Time deadline,
    std::vector<pid_t>* adopted = nullptr);

// SIGKILLs each of `processes` that still runs (and is still the same
// process, not a later one with its pid).
void KillAll(const std::vector<ProcessEntry>& processes);

// A root program run as a child of the test: its own process group,
// SIGKILLed if the test dies (PR_SET_PDEATHSIG), stdout and stderr captured
// (and copied to the test's stderr as they come). The destructor SIGKILLs
// the process group and reaps the root.
class RootProcess {
 public:
  // Starts `binary` with `args` and waits up to `timeout` for its
  // `tether: actor NAME listening on ADDR` line. Fails (and kills the
  // root) if it exits or times out first.
  static absl::StatusOr<std::unique_ptr<RootProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(20));

  RootProcess(const RootProcess&) = delete;
  RootProcess& operator=(const RootProcess&) = delete;
  ~RootProcess();

  pid_t pid() const { return process_->pid(); }

  // Sends `signal` to the root alone (not its group).
  void Signal(int signal) { process_->Signal(signal); }

  // Waits up to `timeout` for the root to exit, reaps it and returns its
  // wait(2) status; DeadlineExceeded while it runs. Returns once the
  // root's stdout is read to its end too (or after a short limit, when a
  // descendant still holds it open), so its last lines are captured.
  absl::StatusOr<int> WaitExit(absl::Duration timeout);

  // Waits until stdout has a line containing `needle`, up to `timeout`.
  bool WaitForStdout(absl::string_view needle, absl::Duration timeout);

  // The first stdout line `observed KEY=VALUE`'s VALUE, if printed yet.
  std::optional<std::string> Observed(absl::string_view key) const;

  // Everything captured so far.
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  RootProcess(std::unique_ptr<SpawnedProcess> process, int wake_read_fd,
              int wake_write_fd);

  // Reader thread: copies both pipes into the buffers (and closes them)
  // until both reach end of file or the destructor writes to the wake pipe.
  void ReadOutput(int stdout_fd, int stderr_fd);

  std::unique_ptr<SpawnedProcess> process_;
  // The destructor writes to the wake pipe to stop the reader.
  const int wake_read_fd_;
  const int wake_write_fd_;
  std::thread reader_;

  mutable absl::Mutex mu_;
  std::string stdout_ ABSL_GUARDED_BY(mu_);
  std::string stderr_ ABSL_GUARDED_BY(mu_);
  // The root and everything that inherited its stdout closed it.
  bool stdout_closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_PROCESS_TREE_H_
