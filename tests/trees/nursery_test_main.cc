// The main() of every nursery test binary (tests/trees/nursery_test_fixture.h).
// The binary is both the root actor that runs the tests and, re-executed
// by the Spawner, each of its children: a child logs its start and exit in
// the process log and serves; the root becomes a child subreaper, creates
// the process log and runs the tests.

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/process/spawner.h"
#include "testing/poll_until.h"
#include "tests/trees/nursery_process_log.h"
#include "tests/trees/nursery_test_fixture.h"
#include "tether/main.h"

namespace tether::nursery_test {
namespace {

// Spawner names a child's argv[0] "tether-child:<name>".
constexpr absl::string_view kChildArgPrefix = "tether-child:";
// How long a kHeldBooter waits for HoldFile() before it boots anyway.
constexpr absl::Duration kHoldLimit = absl::Seconds(30);

// In a spawned child, before it boots: logs its start, crashes the child
// named kBootCrasher and holds the one named kHeldBooter.
void BeforeChildBoot(const char* argv0) {
  if (std::getenv(kChildSpecFdEnv) == nullptr) return;
  const std::string name(absl::StripPrefix(argv0, kChildArgPrefix));
  AppendToProcessLog(
      absl::StrCat("start ", getpid(), " ", getppid(), " ", name));
  if (name == kBootCrasher) {
    std::fprintf(stderr, "nursery_test: %s %s\n", name.c_str(), kBootCrashLine);
    const rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::abort();
  }
  if (name == kHeldBooter) {
    // Polls: the test creates the file once the nursery is failing.
    PollUntil(absl::Now() + kHoldLimit,
              [] { return access(HoldFile().c_str(), F_OK) == 0; });
  }
}

void AfterChildExit(int code) {
  AppendToProcessLog(absl::StrCat("exit ", getpid(), " ", code));
}

// The root: adopts orphaned descendants and names the process log.
void BecomeRoot() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::fprintf(stderr, "nursery_test: PR_SET_CHILD_SUBREAPER: %s\n",
                 strerror(errno));
  }
  CreateProcessLog();
}

}  // namespace
}  // namespace tether::nursery_test

int main(int argc, char** argv) {
  tether::nursery_test::BeforeChildBoot(argv[0]);
  if (std::optional<int> code = tether::RunAsChildIfSpawned(argc, argv)) {
    tether::nursery_test::AfterChildExit(*code);
    return *code;
  }
  tether::nursery_test::BecomeRoot();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
