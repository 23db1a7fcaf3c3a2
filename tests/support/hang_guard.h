// File: tests/support/hang_guard.h
//
// A multi-process test's guard against hanging: if the guarded scope is
// still open after `limit`, the guard says which test hung, SIGKILLs every
// descendant of the test process (so no actor outlives the test, whatever
// it was blocked on) and ends the test process with exit code 1 - a clear
// failure well before Bazel's own timeout, which would leave no message.
//
//   TEST_F(DiscoveryTest, Something) {
//     HangGuard guard(absl::Seconds(60), "DiscoveryTest.Something");
//     ...   // every wait here has its own, shorter deadline
//   }
//
// The limit is a backstop, far above what a healthy run needs: the test's
// own waits have deadlines and report what they waited for.
// Thread-safe; construct and destroy on one thread.

#ifndef TETHER_TESTS_SUPPORT_HANG_GUARD_H_
#define TETHER_TESTS_SUPPORT_HANG_GUARD_H_

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace tether {

class HangGuard {
 public:
  HangGuard(absl::Duration limit, std::string what);
  HangGuard(const HangGuard&) = delete;
  HangGuard& operator=(const HangGuard&) = delete;
  // Disarms the guard.
  ~HangGuard();

 private:
  absl::Notification done_;
  std::thread watcher_;
};

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_HANG_GUARD_H_
