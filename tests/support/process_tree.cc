#include "tests/support/process_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "testing/poll_until.h"
#include "tests/support/listening_line.h"

namespace tether {
namespace {

// Roots a RootProcess reaps itself; ReapAdoptedZombies leaves them alone.
absl::Mutex owned_mu;
std::set<pid_t>& OwnedPids() ABSL_EXCLUSIVE_LOCKS_REQUIRED(owned_mu) {
  static std::set<pid_t>* owned = new std::set<pid_t>();
  return *owned;
}

// How often a wait for /proc to change looks again. The waits poll a
// condition up to a deadline; nothing relies on the interval.
constexpr absl::Duration kProcPollInterval = absl::Milliseconds(10);

// How long WaitExit waits for the rest of an exited root's stdout.
constexpr absl::Duration kDrainLimit = absl::Seconds(2);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<ProcessEntry> ListProcesses() {
  std::vector<ProcessEntry> processes;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return processes;
  while (const dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    if (std::optional<ProcessEntry> process = ReadProcess(pid)) {
      processes.push_back(*std::move(process));
    }
  }
  closedir(proc);
  return processes;
}

void WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::optional<ProcessEntry> ReadProcess(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // the fields start after the last ')'.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  const std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  // state, ppid, pgrp, ... starttime is the 20th field after comm.
  constexpr size_t kStartTime = 19;
  if (fields.size() <= kStartTime || fields[0].empty()) return std::nullopt;
  ProcessEntry process;
  process.pid = pid;
  process.state = fields[0][0];
  if (!absl::SimpleAtoi(fields[1], &process.ppid) ||
      !absl::SimpleAtoi(fields[kStartTime], &process.start_time)) {
    return std::nullopt;
  }
  std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  process.cmdline = std::move(cmdline);
  return process;
}

std::vector<ProcessEntry> ListDescendants(pid_t ancestor) {
  std::multimap<pid_t, ProcessEntry> by_parent;
  for (ProcessEntry& process : ListProcesses()) {
    const pid_t parent = process.ppid;
    by_parent.emplace(parent, std::move(process));
  }
  std::vector<ProcessEntry> descendants;
  std::vector<pid_t> frontier = {ancestor};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    const auto [begin, end] = by_parent.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      descendants.push_back(it->second);
      frontier.push_back(it->second.pid);
    }
  }
  return descendants;
}

std::string DescribeProcesses(const std::vector<ProcessEntry>& processes) {
  std::string text;
  for (const ProcessEntry& process : processes) {
    absl::StrAppend(&text, process.pid, " (", std::string(1, process.state),
                    ", parent ", process.ppid, ") ", process.cmdline, "\n");
  }
  return text.empty() ? "(none)\n" : text;
}

absl::Status BecomeSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return absl::InternalError(
        absl::StrCat("PR_SET_CHILD_SUBREAPER: ", strerror(errno)));
  }
  return absl::OkStatus();
}

std::vector<pid_t> ReapAdoptedZombies() {
  std::set<pid_t> owned;
  {
    absl::MutexLock lock(&owned_mu);
    owned = OwnedPids();
  }
  std::vector<pid_t> reaped;
  for (const ProcessEntry& process : ListProcesses()) {
    if (process.ppid != getpid() || process.state != 'Z' ||
        owned.count(process.pid) > 0) {
      continue;
    }
    if (waitpid(process.pid, nullptr, WNOHANG) == process.pid) {
      reaped.push_back(process.pid);
    }
  }
  return reaped;
}

bool IsGone(const ProcessEntry& process) {
  const std::optional<ProcessEntry> now = ReadProcess(process.pid);
  return !now.has_value() || now->start_time != process.start_time;
}

std::vector<ProcessEntry> WaitUntilGone(
    const std::vector<ProcessEntry>& processes, absl::Time deadline,
    std::vector<pid_t>* adopted) {
  std::vector<ProcessEntry> remaining;
  PollUntil(
      deadline,
      [&] {
        const std::vector<pid_t> reaped = ReapAdoptedZombies();
        if (adopted != nullptr) {
          adopted->insert(adopted->end(), reaped.begin(), reaped.end());
        }
        remaining.clear();
        for (const ProcessEntry& process : processes) {
          if (!IsGone(process)) {
            remaining.push_back(ReadProcess(process.pid).value_or(process));
          }
        }
        return remaining.empty();
      },
      kProcPollInterval);
  return remaining;
}

void KillAll(const std::vector<ProcessEntry>& processes) {
  for (const ProcessEntry& process : processes) {
    if (!IsGone(process)) kill(process.pid, SIGKILL);
  }
}

absl::StatusOr<std::unique_ptr<RootProcess>> RootProcess::Start(
    const std::string& binary, const std::vector<std::string>& args,
    absl::Duration timeout) {
  int stdout_fd = -1;
  int stderr_fd = -1;
  absl::StatusOr<std::unique_ptr<SpawnedProcess>> process =
      SpawnedProcess::Start(binary, args, &stdout_fd, &stderr_fd);
  if (!process.ok()) return process.status();
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    close(stdout_fd);
    close(stderr_fd);
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  std::unique_ptr<RootProcess> root(
      new RootProcess(*std::move(process), wake[0], wake[1]));
  root->reader_ = std::thread([r = root.get(), stdout_fd, stderr_fd] {
    r->ReadOutput(stdout_fd, stderr_fd);
  });
  {
    RootProcess* r = root.get();
    absl::MutexLock lock(&r->mu_);
    auto listening_or_closed = [r]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      return r->stdout_closed_ || FindListeningAddress(r->stdout_).has_value();
    };
    r->mu_.AwaitWithTimeout(absl::Condition(&listening_or_closed), timeout);
    if (FindListeningAddress(r->stdout_).has_value()) return root;
  }
  return absl::UnavailableError(absl::StrCat(
      binary, ": no listening line within ", absl::FormatDuration(timeout),
      "; stderr:\n", root->Stderr()));
}

RootProcess::RootProcess(std::unique_ptr<SpawnedProcess> process,
                         int wake_read_fd, int wake_write_fd)
    : process_(std::move(process)),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd) {
  absl::MutexLock lock(&owned_mu);
  OwnedPids().insert(process_->pid());
}

absl::StatusOr<int> RootProcess::WaitExit(absl::Duration timeout) {
  absl::StatusOr<int> status = process_->WaitExit(timeout);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stdout_closed_), kDrainLimit);
  return status;
}

RootProcess::~RootProcess() {
  const pid_t pid = process_->pid();
  process_.reset();
  {
    absl::MutexLock lock(&owned_mu);
    OwnedPids().erase(pid);
  }
  // Descendants that outlive the root may hold its stdout open; the wake
  // pipe stops the reader regardless.
  WriteAll(wake_write_fd_, "x");
  if (reader_.joinable()) reader_.join();
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void RootProcess::ReadOutput(int stdout_fd, int stderr_fd) {
  pollfd fds[3] = {{stdout_fd, POLLIN, 0},
                   {stderr_fd, POLLIN, 0},
                   {wake_read_fd_, POLLIN, 0}};
  int open_pipes = 2;
  while (open_pipes > 0) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      absl::MutexLock lock(&mu_);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_pipes;
        if (i == 0) stdout_closed_ = true;
        continue;
      }
      const absl::string_view data(chunk, static_cast<size_t>(n));
      // The test log shows the tree's output as it happens.
      WriteAll(STDERR_FILENO, data);
      absl::StrAppend(i == 0 ? &stdout_ : &stderr_, data);
    }
  }
  absl::MutexLock lock(&mu_);
  stdout_closed_ = true;
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd >= 0) close(fds[i].fd);
  }
}

bool RootProcess::WaitForStdout(absl::string_view needle,
                                absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto found = [this, needle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::StrContains(stdout_, needle);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
}

std::optional<std::string> RootProcess::Observed(absl::string_view key) const {
  const std::string prefix = absl::StrCat("observed ", key, "=");
  for (absl::string_view line : absl::StrSplit(Stdout(), '\n')) {
    if (absl::StartsWith(line, prefix)) {
      return std::string(line.substr(prefix.size()));
    }
  }
  return std::nullopt;
}

std::string RootProcess::Stdout() const {
  absl::MutexLock lock(&mu_);
  return stdout_;
}

std::string RootProcess::Stderr() const {
  absl::MutexLock lock(&mu_);
  return stderr_;
}

}  // namespace tether
