// Actor nurseries across real processes: a child that crashes during boot
// or cannot serve is an actor failure carrying its stderr, reported once.
// The fixture, and the main() that makes a child named kBootCrasher abort,
// are in tests/trees/nursery_test_fixture.h and
// tests/trees/nursery_test_main.cc.

#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/trees/nursery_test_fixture.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/v1/error.pb.h"
#include "tether/value.h"

namespace tether::nursery_test {
namespace {

void NoCoreFile() {
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
}

// Dies of SIGSEGV in this very function, so a crash report's stack starts
// here. The address is not null: under --config=asan, UBSan would report a
// null store and exit instead of letting the signal happen.
absl::StatusOr<Value> SegfaultMidCall(const Value&) {
  NoCoreFile();
  volatile uintptr_t unmapped = 8;
  *reinterpret_cast<volatile int*>(unmapped) = 1;
  return absl::InternalError("the store to an unmapped address went through");
}
TETHER_REGISTER_PLAIN(segfault_mid_call, SegfaultMidCall);

// Dies of SIGABRT, raised inside glibc's abort().
absl::StatusOr<Value> AbortMidCall(const Value&) {
  NoCoreFile();
  std::abort();
}
TETHER_REGISTER_PLAIN(abort_mid_call, AbortMidCall);

// --- 12. Children that crash during boot ---

TEST_F(NurseryTest, ChildAbortingDuringBootIsAnActorFailureWithItsStderr) {
  absl::Status start_error;
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_RETURN_IF_ERROR(
            nursery.StartActor("bystander", Patient()).status());
        start_error = nursery.StartActor(kBootCrasher, Patient()).status();
        return start_error;
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.type(), kActorFailureType);
  EXPECT_EQ(info.source().name(), kBootCrasher);
  EXPECT_TRUE(absl::StrContains(info.message(), "signal 6")) << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), kBootCrashLine))
      << info.message();
  EXPECT_EQ(InfoOf(start_error).kind(), v1::ERROR_KIND_ACTOR_FAILURE);
  EXPECT_FALSE(Child(kBootCrasher).exit_code.has_value());
  EXPECT_EQ(Child("bystander").exit_code, 0);
}

TEST_F(NurseryTest, ChildThatCannotServeIsAnActorFailureWithItsStderr) {
  ActorOptions unservable = Patient();
  unservable.listen = "unix:/nonexistent-dir/x.sock";
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery.StartActor("homeless", unservable).status();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.source().name(), "homeless");
  EXPECT_TRUE(absl::StrContains(info.message(), "exit code 3"))
      << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), "cannot serve"))
      << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), "/nonexistent-dir/x.sock"))
      << info.message();
  EXPECT_EQ(Child("homeless").exit_code, 3);
}

// RunInActor both fails the nursery with a boot failure and returns it; a
// block that passes it on must not turn the one failure into a group.
TEST_F(NurseryTest, BootFailureOfARunInActorChildIsReportedOnce) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery.RunInActor(kBootCrasher, "echo", Value(), Patient())
            .status();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.source().name(), kBootCrasher);
  EXPECT_TRUE(absl::StrContains(info.message(), "signal 6")) << info.message();
}
// --- Crash reports ---

// The ActorFailure in `status`, itself or a member of its group.
std::optional<v1::ErrorInfo> ActorFailureIn(const absl::Status& status) {
  const v1::ErrorInfo info = InfoOf(status);
  if (info.kind() == v1::ERROR_KIND_ACTOR_FAILURE) return info;
  for (const v1::ErrorInfo& member : info.errors()) {
    if (member.kind() == v1::ERROR_KIND_ACTOR_FAILURE) return member;
  }
  return std::nullopt;
}

// A child's fatal signal is reported with the tail of its stderr, where
// the crash report child_main installs (runtime/base/crash_report.h; in both
// builds, ASan's too) wrote the signal and the stack: its first line names
// `signal`, and one of its frame lines, "@ 0x<pc> <symbol>", names
// `function`.
void ExpectSymbolizedCrashReport(const absl::Status& status,
                                 absl::string_view signal,
                                 absl::string_view function) {
  const std::optional<v1::ErrorInfo> failure = ActorFailureIn(status);
  ASSERT_TRUE(failure.has_value()) << DescribeError(status);
  EXPECT_EQ(failure->source().name(), "crasher");
  const std::string& report = failure->message();
  EXPECT_TRUE(absl::StrContains(report, "died: signal")) << report;
  EXPECT_TRUE(absl::StrContains(report, "its stderr ends with:")) << report;
  EXPECT_TRUE(absl::StrContains(report, absl::StrCat("*** ", signal, " (")))
      << report;
  bool symbolized = false;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    const bool frame = absl::ConsumePrefix(&line, "@ 0x");
    symbolized = symbolized || (frame && absl::StrContains(line, function));
  }
  EXPECT_TRUE(symbolized) << report;
}

TEST_F(NurseryTest, DaemonDyingOfASignalReportsItsSymbolizedStack) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * crasher,
                                nursery.StartActor("crasher", Patient()));
        // The call breaks with the process; its death fails the nursery.
        EXPECT_FALSE(crasher->Run("segfault_mid_call", Value()).ok());
        return absl::OkStatus();
      });
  ExpectSymbolizedCrashReport(status, "SIGSEGV", "SegfaultMidCall()");
  EXPECT_FALSE(Child("crasher").exit_code.has_value());
}

// The function's call ends with TransportClosed as the child dies, and may
// fail the nursery before the death is seen: the death, which carries the
// crash report, must still be what the nursery reports, alone.
TEST_F(NurseryTest, RunInActorChildDyingOfASignalReportsItsSymbolizedStack) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery
            .RunInActor("crasher", "segfault_mid_call", Value(), Patient())
            .status();
      });
  ExpectSymbolizedCrashReport(status, "SIGSEGV", "SegfaultMidCall()");
  EXPECT_EQ(InfoOf(status).kind(), v1::ERROR_KIND_ACTOR_FAILURE)
      << DescribeError(status);
}

// abort() raises SIGABRT inside glibc; the report's callers' frames name
// the function that called it.
TEST_F(NurseryTest, DaemonAbortingReportsItsSymbolizedStack) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * crasher,
                                nursery.StartActor("crasher", Patient()));
        EXPECT_FALSE(crasher->Run("abort_mid_call", Value()).ok());
        return absl::OkStatus();
      });
  ExpectSymbolizedCrashReport(status, "SIGABRT", "AbortMidCall()");
}

}  // namespace
}  // namespace tether::nursery_test
