#include "tests/actor_process.h"

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
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tether {
namespace {

constexpr absl::string_view kListeningMarker = " listening on ";

// Reads lines from `fd` until one announces the listening address or the
// deadline passes.
absl::StatusOr<std::string> ReadListeningAddress(int fd, absl::Time deadline) {
  std::string buffer;
  while (true) {
    const size_t newline = buffer.find('\n');
    if (newline != std::string::npos) {
      const std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      const size_t marker = line.find(std::string(kListeningMarker));
      if (absl::StartsWith(line, "tether: actor ") &&
          marker != std::string::npos) {
        return line.substr(marker + kListeningMarker.size());
      }
      continue;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("no listening line before deadline");
    }
    pollfd pfd = {fd, POLLIN, 0};
    const int ready =
        poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (ready <= 0) continue;
    char chunk[512];
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n == 0) {
      return absl::UnavailableError("the actor exited before listening");
    }
    if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace

std::string RunfilePath(absl::string_view path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return std::string(path);
  return absl::StrCat(srcdir, "/", workspace == nullptr ? "tether" : workspace,
                      "/", path);
}

absl::StatusOr<std::unique_ptr<ActorProcess>> ActorProcess::Start(
    const std::string& binary, std::vector<std::string> args,
    absl::Duration timeout) {
  bool has_listen = false;
  for (const std::string& arg : args) {
    has_listen = has_listen || absl::StartsWith(arg, "--listen");
  }
  if (!has_listen) args.push_back("--listen=127.0.0.1:0");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out[1], STDOUT_FILENO);
    // Bazel runs tests with SIGINT ignored; actors must see it.
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  std::unique_ptr<ActorProcess> process;
  absl::StatusOr<std::string> listening =
      ReadListeningAddress(out[0], absl::Now() + timeout);
  close(out[0]);
  if (!listening.ok()) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return absl::Status(
        listening.status().code(),
        absl::StrCat(binary, ": ", listening.status().message()));
  }
  absl::StatusOr<Address> address = Address::Parse(*listening);
  if (!address.ok()) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return address.status();
  }
  return std::unique_ptr<ActorProcess>(new ActorProcess(pid, *address));
}

ActorProcess::~ActorProcess() {
  if (reaped_) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void ActorProcess::Signal(int signal) { kill(pid_, signal); }

absl::StatusOr<int> ActorProcess::WaitExit(absl::Duration timeout) {
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
  if (ready == 0) {
    return absl::DeadlineExceededError("the actor is still running");
  }
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
