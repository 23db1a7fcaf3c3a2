#include "runtime/process/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "tether/errors.h"

extern char** environ;

namespace tether {
namespace {

// Enough for a crash report (runtime/base/crash_report.h) and a line or two
// before it.
constexpr size_t kTailLines = 40;
// How long StderrTail waits for a dead child's last output to be copied.
constexpr absl::Duration kStderrDrainLimit = absl::Seconds(2);
// The spec is in its pipe before the child runs: reading it never waits
// for the parent, only for the kernel.
constexpr absl::Duration kSpecReadLimit = absl::Seconds(5);
// A pipe holds 64 KiB (pipe(7)), so the parent writes the whole spec before
// the child exists. (A user over fs.pipe-user-pages-soft gets 4 KiB pipes:
// the write end does not block, and a spec that does not fit fails the
// spawn, naming its size.)
constexpr size_t kMaxSpecBytes = 60 << 10;

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

// Reads `fd` to end of file or until `deadline`; DeadlineExceeded on time
// out.
absl::StatusOr<std::string> ReadAll(int fd, absl::Time deadline) {
  std::string data;
  while (true) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return absl::DeadlineExceededError("nothing in time");
    pollfd pfd = {fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return ErrnoError("poll");
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno != EINTR) return ErrnoError("read");
    if (n == 0) return data;
    if (n > 0) data.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<v1::ChildSpec> ReadChildSpec(int fd) {
  absl::StatusOr<std::string> bytes = ReadAll(fd, absl::Now() + kSpecReadLimit);
  close(fd);
  if (!bytes.ok()) return bytes.status();
  v1::ChildSpec spec;
  if (!spec.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError("malformed spawn spec");
  }
  return spec;
}

ChildProcess::ChildProcess(pid_t pid, int stderr_fd) : pid_(pid) {
  {
    absl::MutexLock lock(&mu_);
    stderr_fd_ = stderr_fd;
  }
  stderr_copier_ = std::thread([this, stderr_fd] { CopyStderr(stderr_fd); });
}

ChildProcess::~ChildProcess() {
  Spawner::Get().Forget(this);
  bool reaped;
  {
    absl::MutexLock lock(&mu_);
    reaped = reaped_;
  }
  if (!reaped) {
    kill(pid_, SIGKILL);
    WaitExit(absl::InfiniteDuration()).IgnoreError();
  }
  // The child's stderr reaches end of file once it and its descendants
  // closed it.
  if (stderr_copier_.joinable()) stderr_copier_.join();
}

void ChildProcess::CopyStderr(int fd) {
  char chunk[4096];
  while (true) {
    // Only a chunk known to be there is read, so that `stderr_reading_`
    // is never set while the copier waits (see StderrTail).
    pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    {
      absl::MutexLock lock(&mu_);
      stderr_reading_ = true;
    }
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) {
      absl::MutexLock lock(&mu_);
      stderr_reading_ = false;
      continue;
    }
    if (n <= 0) break;
    // Pass the child's lines through as they are: they name their actor.
    size_t written = 0;
    while (written < static_cast<size_t>(n)) {
      const ssize_t w = write(STDERR_FILENO, chunk + written, n - written);
      if (w <= 0) break;
      written += static_cast<size_t>(w);
    }
    absl::MutexLock lock(&mu_);
    stderr_reading_ = false;
    partial_line_.append(chunk, static_cast<size_t>(n));
    size_t newline;
    while ((newline = partial_line_.find('\n')) != std::string::npos) {
      tail_.push_back(partial_line_.substr(0, newline));
      partial_line_.erase(0, newline + 1);
      if (tail_.size() > kTailLines) tail_.pop_front();
    }
  }
  // Closed under mu_: StderrTail looks at the descriptor under mu_.
  absl::MutexLock lock(&mu_);
  stderr_reading_ = false;
  stderr_fd_ = -1;
  close(fd);
}

bool ChildProcess::StderrCopiedLocked() const {
  if (stderr_fd_ < 0) return true;
  int unread = 0;
  if (ioctl(stderr_fd_, FIONREAD, &unread) != 0) return true;
  return !stderr_reading_ && unread == 0;
}

std::string ChildProcess::StderrTail() const {
  absl::MutexLock lock(&mu_);
  // A child that died wrote its last words (a crash report) before it
  // did, so they are in the pipe by now: wait until the copier has them.
  // Bounded, as the copier also waits to pass each chunk on.
  if (reaped_) {
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](const ChildProcess* child) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                 child->mu_) { return child->StderrCopiedLocked(); },
            this),
        kStderrDrainLimit);
  }
  std::vector<std::string> lines(tail_.begin(), tail_.end());
  if (!partial_line_.empty()) lines.push_back(partial_line_);
  return absl::StrJoin(lines, "\n");
}

void ChildProcess::Signal(int signal) {
  absl::MutexLock lock(&mu_);
  if (!reaped_) kill(pid_, signal);
}

absl::StatusOr<int> ChildProcess::WaitExit(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (reaped_) return wait_status_;
  }
  // A pidfd becomes readable when the process exits: a blocking wait with
  // a deadline, which waitpid(2) alone does not offer. Several threads may
  // wait at once; the first to take mu_ after the exit reaps.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd pfd = {pidfd, POLLIN, 0};
    const absl::Time deadline = absl::Now() + timeout;
    int ready = 0;
    do {
      const int64_t left =
          timeout == absl::InfiniteDuration()
              ? -1
              : std::max<int64_t>(
                    absl::ToInt64Milliseconds(deadline - absl::Now()), 0);
      ready = poll(&pfd, 1, static_cast<int>(left));
    } while (ready < 0 && errno == EINTR);
    close(pidfd);
    if (ready == 0) return absl::DeadlineExceededError("the child still runs");
  }
  // No pidfd: the child was reaped by another waiter meanwhile (ESRCH), or
  // the pidfd said it exited.
  absl::MutexLock lock(&mu_);
  if (reaped_) return wait_status_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid");
  }
  reaped_ = true;
  wait_status_ = status;
  return status;
}

std::string ChildProcess::DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat("exit code ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("signal ", WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  return absl::StrCat("wait status ", wait_status);
}

Spawner& Spawner::Get() {
  static Spawner* spawner = new Spawner();
  return *spawner;
}

Spawner::Spawner() {
  fork_thread_ = std::thread([this] { ForkThreadLoop(); });
  fork_thread_.detach();
}

void Spawner::KillAllChildren() {
  absl::MutexLock lock(&mu_);
  for (ChildProcess* child : live_) child->Signal(SIGKILL);
}

void Spawner::Forget(ChildProcess* child) {
  absl::MutexLock lock(&mu_);
  live_.erase(std::remove(live_.begin(), live_.end(), child), live_.end());
}

void Spawner::ForkThreadLoop() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](std::deque<std::function<void()>>* jobs) {
            return !jobs->empty();
          },
          &jobs_));
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void Spawner::OnForkThread(std::function<void()> job) {
  absl::Mutex done_mu;
  bool done = false;
  {
    absl::MutexLock lock(&mu_);
    jobs_.push_back([&] {
      job();
      absl::MutexLock done_lock(&done_mu);
      done = true;
    });
  }
  absl::MutexLock lock(&done_mu);
  done_mu.Await(absl::Condition(&done));
}

absl::StatusOr<std::unique_ptr<ChildProcess>> Spawner::Spawn(
    const v1::ChildSpec& spec, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const v1::ActorId& id = spec.id();
  const std::string spec_bytes = spec.SerializeAsString();
  if (spec_bytes.size() > kMaxSpecBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a spawn spec of ", spec_bytes.size(),
                     " bytes exceeds the limit of ", kMaxSpecBytes));
  }
  int spec_pipe[2];
  if (pipe2(spec_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2");
  fcntl(spec_pipe[1], F_SETFL, O_NONBLOCK);
  const ssize_t spec_written =
      write(spec_pipe[1], spec_bytes.data(), spec_bytes.size());
  close(spec_pipe[1]);
  if (spec_written != static_cast<ssize_t>(spec_bytes.size())) {
    close(spec_pipe[0]);
    if (spec_written >= 0) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "a spawn spec of ", spec_bytes.size(),
          " bytes does not fit in a pipe (", spec_written, " did)"));
    }
    return ErrnoError("write spawn spec");
  }
  int report[2];
  int err[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(spec_pipe[0]);
    return ErrnoError("pipe2");
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(spec_pipe[0]);
    close(report[0]);
    close(report[1]);
    return ErrnoError("pipe2");
  }
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    if (absl::StartsWith(entry, absl::StrCat(kChildSpecFdEnv, "=")) ||
        absl::StartsWith(entry, absl::StrCat(kChildReportFdEnv, "="))) {
      continue;
    }
    env_strings.emplace_back(entry);
  }
  env_strings.push_back(absl::StrCat(kChildSpecFdEnv, "=", spec_pipe[0]));
  env_strings.push_back(absl::StrCat(kChildReportFdEnv, "=", report[1]));
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string arg0 = absl::StrCat("tether-child:", id.name());
  char* argv[] = {arg0.data(), nullptr};
  const pid_t parent = getpid();

  pid_t pid = -1;
  int fork_errno = 0;
  OnForkThread([&] {
    pid = fork();
    if (pid == 0) {
      // Dies with the thread that forked it: the spawner's, which lives as
      // long as the parent process.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      dup2(err[1], STDERR_FILENO);
      // The spec and report ends must survive exec; everything else is
      // close-on-exec.
      fcntl(spec_pipe[0], F_SETFD, 0);
      fcntl(report[1], F_SETFD, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      execve(exe.c_str(), argv, envp.data());
      _exit(127);
    }
    fork_errno = errno;
  });
  close(spec_pipe[0]);
  close(report[1]);
  close(err[1]);
  if (pid < 0) {
    close(report[0]);
    close(err[0]);
    errno = fork_errno;
    return ErrnoError("fork");
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid, err[0]));
  {
    absl::MutexLock lock(&mu_);
    live_.push_back(child.get());
  }
  absl::StatusOr<std::string> bytes = ReadAll(report[0], deadline);
  close(report[0]);

  std::string cause;
  v1::ChildReport reported;
  if (!bytes.ok()) {
    cause = absl::StrCat("no report within ", absl::FormatDuration(timeout));
  } else if (bytes->empty() || !reported.ParseFromString(*bytes) ||
             reported.actor().addresses().empty()) {
    // The report pipe closed without a report: the child exited.
    absl::StatusOr<int> status = child->WaitExit(absl::Seconds(5));
    cause = status.ok() ? absl::StrCat("exited during boot with ",
                                       ChildProcess::DescribeExit(*status))
                        : "closed its report pipe without reporting";
  }
  if (!cause.empty()) {
    child->Signal(SIGKILL);
    child->WaitExit(absl::InfiniteDuration()).IgnoreError();
    // The copier has seen everything once the child is gone; wait for it
    // so the tail is complete.
    child->stderr_copier_.join();
    child->stderr_copier_ = std::thread();
    const std::string tail = child->StderrTail();
    return ActorFailureError(
        id,
        absl::StrCat("child actor ", id.name(), "[", id.uuid().substr(0, 8),
                     "] failed to start: ", cause,
                     tail.empty() ? "" : "; its stderr ends with:\n", tail));
  }
  child->actor_ = reported.actor();
  return child;
}

}  // namespace tether
