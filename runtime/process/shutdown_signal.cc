#include "runtime/process/shutdown_signal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/log.h"

namespace tether {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShutdownSignal>> ShutdownSignal::Install() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    return ErrnoError("pthread_sigmask");
  }
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) return ErrnoError("signalfd");
  const int event_fd = eventfd(0, EFD_CLOEXEC);
  if (event_fd < 0) {
    const absl::Status error = ErrnoError("eventfd");
    close(signal_fd);
    return error;
  }
  return std::unique_ptr<ShutdownSignal>(
      new ShutdownSignal(signal_fd, event_fd));
}

ShutdownSignal::~ShutdownSignal() {
  close(signal_fd_);
  close(event_fd_);
}

void ShutdownSignal::Request(const std::string& reason) {
  {
    absl::MutexLock lock(&mu_);
    if (reason_.empty()) reason_ = reason;
  }
  const uint64_t one = 1;
  while (write(event_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

std::string ShutdownSignal::Wait() {
  pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (!reason_.empty()) return reason_;
    }
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Request(absl::StrCat("poll failed: ", strerror(errno)));
      continue;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGINT && InterruptsIgnored()) {
          TETHER_LOG(kWarning)
              << "ignoring SIGINT: the debug prompt has the terminal";
          continue;
        }
        Request(info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
      }
    }
    // An eventfd wake-up needs no draining: reason_ is already set.
  }
}

void ShutdownSignal::IgnoreInterruptsWhile(std::function<bool()> ignore) {
  absl::MutexLock lock(&mu_);
  ignore_interrupts_ = std::move(ignore);
}

bool ShutdownSignal::InterruptsIgnored() {
  std::function<bool()> ignore;
  {
    absl::MutexLock lock(&mu_);
    ignore = ignore_interrupts_;
  }
  return ignore && ignore();
}

bool ShutdownSignal::WaitForAnother(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fd = {signal_fd_, POLLIN, 0};
  while (true) {
    // Polls at least once, so a zero timeout still sees a pending signal.
    const int64_t left =
        std::max<int64_t>(absl::ToInt64Milliseconds(deadline - absl::Now()), 0);
    const int ready = poll(&fd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    signalfd_siginfo info;
    if (read(signal_fd_, &info, sizeof(info)) == sizeof(info)) return true;
  }
}

}  // namespace tether
