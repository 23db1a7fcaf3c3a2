// File: tests/trees/nursery_test_fixture.h
//
// Shared set-up of the nursery tests (tests/nursery_*_test.cc), actor
// nurseries across real processes after tractor's test_cancellation.py and
// test_spawning.py. Each test binary is the root actor (a runtime and a
// server per test, so children can reach it) and every child is that same
// binary re-executed in child mode (tests/trees/nursery_test_main.cc). So the
// functions children run are registered in the binary: the ones every
// nursery test needs (await_gate, gated_errorer) by this library, the
// others by the test file that uses them.
//
// Hang guard: OpenNursery runs a nursery under a watchdog. No leftovers:
// the root is a child subreaper, so a descendant that outlives its parent
// becomes the root's child instead of init's; after every test, TearDown
// waits (with a deadline) until this process has no child left and every
// pid in the process log (tests/trees/nursery_process_log.h) is gone, and kills
// whatever is left, so that a failing test never leaves processes behind.
//
//   TEST_F(NurseryTest, Something) {
//     const absl::Status status =
//         OpenNursery([&](ActorNursery& nursery) -> absl::Status {
//           return RunGatedErrorers(nursery, "errorer-", 2);
//         });
//     EXPECT_EQ(FailedErrorers(), Names("errorer-", 2));
//   }
//
// Not thread-safe: one test thread drives a fixture. The Gate is
// thread-safe.

#ifndef TETHER_TESTS_TREES_NURSERY_TEST_FIXTURE_H_
#define TETHER_TESTS_TREES_NURSERY_TEST_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "runtime/task/wait.h"
#include "server/actor_server.h"
#include "tests/trees/nursery_process_log.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/value.h"

namespace tether::nursery_test {

// --- Children with a special boot (tests/trees/nursery_test_main.cc) ---

// A child of this name aborts before it serves (a crash during boot),
// printing kBootCrashLine on its stderr.
inline constexpr char kBootCrasher[] = "boot-crasher";
inline constexpr char kBootCrashLine[] = "aborts during boot on purpose";
// A child of this name holds its boot until the test creates HoldFile().
inline constexpr char kHeldBooter[] = "late-daemon";

std::string HoldFile();

// --- Processes ---

struct ProcessEntry {
  pid_t pid = 0;
  char state = '?';
};

// Every process whose parent is this one, zombies included.
std::vector<ProcessEntry> ChildrenOfThisProcess();

// Whether no process `pid` exists any more (a zombie still exists).
bool Gone(pid_t pid);

// "pid (state S), ..." for failure messages.
std::string DescribeProcesses(const std::vector<ProcessEntry>& processes);

// --- The gate: lets a set of children fail together ---

// Holds errorers (each in its own child) until the test has seen every one
// of them arrive, then lets them go at once, so that each of them fails
// while all its siblings run. Lives in the root; children reach it through
// the root's server as the plain function await_gate. Thread-safe.
class Gate {
 public:
  void Reset();

  // A child arrived; blocks until Release() or cancellation.
  absl::Status Arrive(pid_t pid);

  absl::Status AwaitArrivals(int count, absl::Duration timeout);

  void Release();

  std::vector<pid_t> pids() const;

 private:
  mutable absl::Mutex mu_;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<pid_t> pids_ ABSL_GUARDED_BY(mu_);
};

// The root's gate.
Gate& TheGate();

// --- Arguments and errors of the functions the actors run ---

// Spawning many processes on a 2-core machine (under ASan, several test
// runs at once) is slow; boot time is not what these tests measure.
ActorOptions Patient();

absl::StatusOr<std::string> StringArg(const Value& args,
                                      absl::string_view name);
absl::StatusOr<int64_t> IntArg(const Value& args, absl::string_view name);

// An application error of boxed type `type`, raised in this actor.
absl::Status ApplicationError(absl::string_view type,
                              absl::string_view message);

// --- Error inspection ---

// The ErrorInfo of `status`, or a default instance.
v1::ErrorInfo InfoOf(const absl::Status& status);

// The source names (uuids) of the members of an error group.
std::set<std::string> SourceNames(const v1::ErrorInfo& group);
std::set<std::string> SourceUuids(const v1::ErrorInfo& group);

// {"<prefix>0", ..., "<prefix><count - 1>"}.
std::set<std::string> Names(absl::string_view prefix, int count);

// --- The fixture ---

// How long a nursery may take before its watchdog cancels it: far beyond
// what a healthy run needs, so only a hang trips it.
inline constexpr absl::Duration kNurseryLimit = absl::Seconds(90);
// Every process of a test must be gone this long after the test body.
inline constexpr absl::Duration kReapTimeout = absl::Seconds(15);
// Waits for children to reach some state (started a context, arrived).
inline constexpr absl::Duration kStepTimeout = absl::Seconds(60);

// The pid a child reports through Actor/Info.
absl::StatusOr<pid_t> PidOf(const Portal& portal);

class NurseryTest : public testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  ActorCore& root() { return *root_; }
  std::string root_address() const { return server_->address().ToString(); }

  // Children started (by anyone in the tree) since this test began.
  std::map<pid_t, ChildRecord> Children() const;

  // The children named `name`.
  std::vector<ChildRecord> ChildrenNamed(const std::string& name) const;

  // The child named `name`; fails the test when there is not exactly one.
  ChildRecord Child(const std::string& name) const;

  // Names of the gated errorers that failed with their own error (each
  // logs it as it returns the error).
  std::set<std::string> FailedErrorers() const;

  // Every child logged since the test began returned 0 from main(): it
  // ended its serving gracefully, not by a signal or Serve's _exit.
  void ExpectEveryChildExitedCleanly() const;

  // ActorNursery::Open under a watchdog that cancels the opening task after
  // `limit`, so a nursery that never ends fails the test instead of hanging
  // it (the nursery then tears its children down).
  absl::Status OpenNursery(const ActorNursery::Block& block,
                           const Escalation& escalation = Escalation(),
                           absl::Duration limit = kNurseryLimit);

  // Starts `count` gated errorers named "<prefix><i>", waits until every
  // one of them waits at the gate, then releases them together.
  absl::Status RunGatedErrorers(ActorNursery& nursery, absl::string_view prefix,
                                int count);

 private:
  // No child of this process (orphaned descendants included, since it is a
  // subreaper) and no logged descendant may outlive the test. Whatever does
  // is reported, then killed.
  void ExpectNoProcessLeft();

  int64_t log_start_ = 0;
  std::unique_ptr<ActorCore> root_;
  std::unique_ptr<ActorServer> server_;
};

}  // namespace tether::nursery_test

#endif  // TETHER_TESTS_TREES_NURSERY_TEST_FIXTURE_H_
