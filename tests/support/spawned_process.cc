#include "tests/support/spawned_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tether {
namespace {

// Closes both ends of each pipe in `pipes` that was opened.
void ClosePipes(std::initializer_list<int*> pipes) {
  for (int* ends : pipes) {
    for (int i = 0; i < 2; ++i) {
      if (ends[i] >= 0) close(ends[i]);
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SpawnedProcess>> SpawnedProcess::Start(
    const std::string& binary, std::vector<std::string> args, int* stdout_fd,
    int* stderr_fd) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0 ||
      (stderr_fd != nullptr && pipe2(err, O_CLOEXEC) != 0)) {
    const std::string error = strerror(errno);
    ClosePipes({out, err});
    return absl::InternalError(absl::StrCat("pipe2: ", error));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const std::string error = strerror(errno);
    ClosePipes({out, err});
    return absl::InternalError(absl::StrCat("fork: ", error));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out[1], STDOUT_FILENO);
    if (err[1] >= 0) dup2(err[1], STDERR_FILENO);
    // Bazel runs tests with SIGINT ignored; the program must see it.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  *stdout_fd = out[0];
  if (stderr_fd != nullptr) {
    close(err[1]);
    *stderr_fd = err[0];
  }
  return std::unique_ptr<SpawnedProcess>(new SpawnedProcess(pid));
}

SpawnedProcess::~SpawnedProcess() {
  if (reaped_) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void SpawnedProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

absl::StatusOr<int> SpawnedProcess::WaitExit(absl::Duration timeout) {
  if (reaped_) return absl::FailedPreconditionError("already reaped");
  // A pidfd becomes readable when the process exits: a blocking wait with
  // a deadline, which waitpid(2) alone does not offer.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) {
    return absl::InternalError(absl::StrCat("pidfd_open: ", strerror(errno)));
  }
  pollfd pfd = {pidfd, POLLIN, 0};
  const absl::Time deadline = absl::Now() + timeout;
  int ready = 0;
  do {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    ready = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left, 0)));
  } while (ready < 0 && errno == EINTR);
  close(pidfd);
  if (ready == 0) return absl::DeadlineExceededError("the process still runs");
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    }
  }
  reaped_ = true;
  return status;
}

}  // namespace tether
