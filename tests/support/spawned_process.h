// File: tests/support/spawned_process.h
//
// Multi-process test support: one program run as a child of the test that
// never outlives it. The child runs in its own process group, dies with the
// test process (PR_SET_PDEATHSIG) if the test crashes, sees SIGINT and
// SIGTERM at their defaults (Bazel runs tests with SIGINT ignored), and
// writes its stdout (and, if asked, its stderr) into pipes the caller
// reads. Destroying the SpawnedProcess SIGKILLs its process group and reaps
// it, unless WaitExit already reaped it.
//
//   int stdout_fd = -1;
//   absl::StatusOr<std::unique_ptr<SpawnedProcess>> child =
//       SpawnedProcess::Start(binary, {"--name=callee"}, &stdout_fd);
//   ... read stdout_fd, then close it ...
//   (*child)->Signal(SIGTERM);
//   absl::StatusOr<int> status = (*child)->WaitExit(absl::Seconds(10));
//
// Not thread-safe: one test thread drives each SpawnedProcess.

#ifndef TETHER_TESTS_SUPPORT_SPAWNED_PROCESS_H_
#define TETHER_TESTS_SUPPORT_SPAWNED_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tether {

class SpawnedProcess {
 public:
  // Starts `binary` with `args`. Stores the read end of the child's stdout
  // pipe in `*stdout_fd` and, if `stderr_fd` is not null, that of its
  // stderr pipe in `*stderr_fd` (the child's stderr is the test's
  // otherwise); the caller closes them. Both are close-on-exec.
  static absl::StatusOr<std::unique_ptr<SpawnedProcess>> Start(
      const std::string& binary, std::vector<std::string> args, int* stdout_fd,
      int* stderr_fd = nullptr);

  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;
  // SIGKILLs the process group and the process if not yet reaped, and
  // reaps it.
  ~SpawnedProcess();

  pid_t pid() const { return pid_; }

  // Sends `signal` to the process alone (not its group), unless it was
  // reaped: its pid may then belong to another process.
  void Signal(int signal);

  // Waits up to `timeout` for the process to exit, reaps it and returns its
  // wait(2) status; DeadlineExceeded while it runs, FailedPrecondition once
  // reaped.
  absl::StatusOr<int> WaitExit(absl::Duration timeout);

 private:
  explicit SpawnedProcess(pid_t pid) : pid_(pid) {}

  const pid_t pid_;
  bool reaped_ = false;
};

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_SPAWNED_PROCESS_H_
