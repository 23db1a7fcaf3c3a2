// File: runtime/process/shutdown_signal.h
//
// Waits for the reason a process should stop: SIGINT, SIGTERM, or a request
// from inside the program (e.g. the Actor/Cancel RPC).
//
//   // First thing in main(), before gRPC starts any thread:
//   TETHER_ASSIGN_OR_RETURN(auto stop, ShutdownSignal::Install());
//   ... start serving ...
//   std::string why = stop->Wait();   // "SIGTERM", "SIGINT" or a request
//
// Install() blocks SIGINT and SIGTERM in the calling thread, and so in every
// thread created after it, then receives them through a signalfd; no handler
// runs in signal context. Request() and Wait() are thread-safe.

#ifndef TETHER_RUNTIME_PROCESS_SHUTDOWN_SIGNAL_H_
#define TETHER_RUNTIME_PROCESS_SHUTDOWN_SIGNAL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tether {

class ShutdownSignal {
 public:
  // REQUIRES: no other thread exists yet, or every other thread also blocks
  // SIGINT and SIGTERM (otherwise the kernel may deliver them there).
  static absl::StatusOr<std::unique_ptr<ShutdownSignal>> Install();

  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;
  ~ShutdownSignal();

  // Wakes Wait() with `reason`. The first reason wins.
  void Request(const std::string& reason);

  // Blocks until a signal arrives or Request() is called; returns the
  // reason. Later calls return the same reason at once.
  std::string Wait();

  // From now on, a SIGINT that arrives while `ignore()` is true is logged
  // and dropped (debug mode: Ctrl-C belongs to the prompt). Call before
  // Wait().
  void IgnoreInterruptsWhile(std::function<bool()> ignore);

  // After Wait(): waits up to `timeout` for another SIGINT or SIGTERM (a
  // supervisor's "hurry up"); true if one arrived.
  bool WaitForAnother(absl::Duration timeout);

 private:
  bool InterruptsIgnored();

  ShutdownSignal(int signal_fd, int event_fd)
      : signal_fd_(signal_fd), event_fd_(event_fd) {}

  const int signal_fd_;
  const int event_fd_;
  absl::Mutex mu_;
  std::string reason_ ABSL_GUARDED_BY(mu_);
  std::function<bool()> ignore_interrupts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

#endif  // TETHER_RUNTIME_PROCESS_SHUTDOWN_SIGNAL_H_
