// File: tests/support/actor_process.h
//
// Multi-process test support: runs an actor binary as a child process,
// waits (with a deadline) for its `tether: actor NAME listening on ADDR`
// line, and guarantees the process is gone afterwards: it is killed with
// its process group and reaped when the ActorProcess is destroyed, and it
// dies with the test process (PR_SET_PDEATHSIG) if the test crashes.
//
//   absl::StatusOr<std::unique_ptr<ActorProcess>> callee = ActorProcess::Start(
//       RunfilePath("tests/context_test_actor"), {"--name=callee"});
//   ASSERT_TRUE(callee.ok()) << callee.status();
//   Portal portal(&runtime, (*callee)->address());
//
// Not thread-safe: one test thread drives each ActorProcess.

#ifndef TETHER_TESTS_SUPPORT_ACTOR_PROCESS_H_
#define TETHER_TESTS_SUPPORT_ACTOR_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/support/spawned_process.h"
#include "tether/address.h"

namespace tether {

// Path of a file in the test's runfiles, from a workspace-relative path.
std::string RunfilePath(absl::string_view path);

class ActorProcess {
 public:
  // Starts `binary` with `args` (plus --listen=127.0.0.1:0 unless `args`
  // has a --listen, and --token_file=TestTreeTokenFile() unless it has a
  // --token_file) and waits up to `timeout` for its listening line.
  // The child's stderr goes to the test's stderr.
  static absl::StatusOr<std::unique_ptr<ActorProcess>> Start(
      const std::string& binary, std::vector<std::string> args,
      absl::Duration timeout = absl::Seconds(20));

  ActorProcess(const ActorProcess&) = delete;
  ActorProcess& operator=(const ActorProcess&) = delete;
  // Kills the process group (SIGKILL) if still running, and reaps.
  ~ActorProcess() = default;

  const Address& address() const { return address_; }
  pid_t pid() const { return process_->pid(); }

  // Sends `signal` to the process.
  void Signal(int signal) { process_->Signal(signal); }

  // Waits up to `timeout` for the process to exit and returns its wait(2)
  // status; DeadlineExceeded if it is still running.
  absl::StatusOr<int> WaitExit(absl::Duration timeout) {
    return process_->WaitExit(timeout);
  }

 private:
  ActorProcess(std::unique_ptr<SpawnedProcess> process, Address address)
      : process_(std::move(process)), address_(std::move(address)) {}

  const std::unique_ptr<SpawnedProcess> process_;
  const Address address_;
};

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_ACTOR_PROCESS_H_
