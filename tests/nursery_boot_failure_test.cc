// Actor nurseries across real processes: a child that crashes during boot
// or cannot serve is an actor failure carrying its stderr, reported once.
// The fixture, and the main() that makes a child named kBootCrasher abort,
// are in tests/nursery_test_fixture.h and tests/nursery_test_main.cc.

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "client/nursery.h"
#include "client/portal.h"
#include "gtest/gtest.h"
#include "runtime/errors.h"
#include "runtime/status_macros.h"
#include "runtime/value.h"
#include "tests/nursery_test_fixture.h"
#include "tether/v1/error.pb.h"

namespace tether::nursery_test {
namespace {

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
}  // namespace
}  // namespace tether::nursery_test
