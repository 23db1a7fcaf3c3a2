// Actor nurseries across real processes, after tractor's
// tests/test_cancellation.py: failing children cancel every daemon, a
// daemon still booting when the nursery fails is cancelled too, a graceful
// cancel beats the hard-kill path, and a daemon killed by SIGKILL fails the
// nursery and cancels its siblings. The fixture is in
// tests/trees/nursery_test_fixture.h.

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/poll_until.h"
#include "tests/trees/nursery_test_fixture.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/value.h"

namespace tether::nursery_test {
namespace {

// --- 3. Failing children cancel every daemon ---

class FailingChildrenTest : public NurseryTest,
                            public testing::WithParamInterface<int> {};

TEST_P(FailingChildrenTest, CancelEveryDaemonAndLeaveNoProcess) {
  const int errorers = GetParam();
  std::vector<pid_t> daemon_pids;
  absl::Status sleeper_outcome = absl::UnknownError("never set");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * idle,
                                nursery.StartActor("daemon-idle", Patient()));
        TETHER_ASSIGN_OR_RETURN(
            Portal * sleeper, nursery.StartActor("daemon-sleeper", Patient()));
        for (const Portal* daemon : {idle, sleeper}) {
          TETHER_ASSIGN_OR_RETURN(pid_t pid, PidOf(*daemon));
          daemon_pids.push_back(pid);
        }
        TaskGroup holders;
        absl::Notification sleeping;
        holders.Spawn("sleeper", [&]() -> absl::Status {
          sleeper_outcome = sleeper->OpenContext(
              "sleep_forever", Value(),
              [&](Context& ctx, const Value&) -> absl::Status {
                sleeping.Notify();
                return ctx.Result().status();
              });
          return absl::OkStatus();
        });
        if (!sleeping.WaitForNotificationWithTimeout(kStepTimeout)) {
          holders.CancelAll(absl::DeadlineExceededError("no sleep_forever"));
          holders.Wait().IgnoreError();
          return absl::DeadlineExceededError("sleep_forever never started");
        }
        TETHER_RETURN_IF_ERROR(RunGatedErrorers(nursery, "errorer-", errorers));
        // Ends once the nursery has cancelled the sleeping daemon.
        return holders.Wait();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(FailedErrorers(), Names("errorer-", errorers));
  if (errorers == 1) {
    EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
    EXPECT_EQ(info.type(), "AssertionError");
    EXPECT_EQ(info.source().name(), "errorer-0");
  } else {
    ASSERT_EQ(info.kind(), v1::ERROR_KIND_GROUP) << DescribeError(status);
    EXPECT_EQ(info.errors_size(), errorers) << DescribeError(status);
    EXPECT_EQ(SourceNames(info), Names("errorer-", errorers));
  }
  // The daemon's context ended because the nursery (this actor) cancelled
  // it; this side did not ask, so it is not absorbed.
  const v1::ErrorInfo sleeper_info = InfoOf(sleeper_outcome);
  EXPECT_EQ(sleeper_info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << DescribeError(sleeper_outcome);
  EXPECT_EQ(sleeper_info.canceller().uuid(), root().id().uuid());

  // Open returns only when every child has exited and been reaped.
  ASSERT_EQ(daemon_pids.size(), 2u);
  std::vector<pid_t> pids = TheGate().pids();
  pids.insert(pids.end(), daemon_pids.begin(), daemon_pids.end());
  EXPECT_EQ(pids.size(), daemon_pids.size() + errorers);
  for (pid_t pid : pids) EXPECT_TRUE(Gone(pid)) << "pid " << pid;
  EXPECT_TRUE(ChildrenOfThisProcess().empty())
      << DescribeProcesses(ChildrenOfThisProcess());
  EXPECT_EQ(Child("daemon-idle").exit_code, 0);
  EXPECT_EQ(Child("daemon-sleeper").exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Errorers, FailingChildrenTest, testing::Values(1, 3),
                         [](const testing::TestParamInfo<int>& info) {
                           return absl::StrCat(info.param, "_failing");
                         });

// A daemon whose boot was under way when the nursery began failing, and
// completes after that, must be cancelled too: the nursery must neither
// leave it running nor wait for it forever. The daemon's boot is held
// (kHeldBooter) until the errorer's failure has been handled.
TEST_F(NurseryTest, DaemonBootingWhileTheNurseryFailsIsCancelledToo) {
  std::remove(HoldFile().c_str());
  absl::StatusOr<Portal*> late = absl::UnknownError("never started");
  const absl::Time start = absl::Now();
  const absl::Status status = OpenNursery(
      [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(
            Portal * errorer,
            nursery.RunInActor(
                "errorer", "gated_errorer",
                Value::Object({{"gate", Value::String(root_address())},
                               {"type", Value::String("ValueError")}}),
                Patient()));
        TETHER_RETURN_IF_ERROR(TheGate().AwaitArrivals(1, kStepTimeout));
        TaskGroup starter;
        starter.Spawn("start-late-daemon", [&]() -> absl::Status {
          late = nursery.StartActor(kHeldBooter, Patient());
          return absl::OkStatus();
        });
        // The daemon's process exists: StartActor is past its checks.
        const absl::Time deadline = absl::Now() + kStepTimeout;
        PollUntil(deadline,
                  [this] { return !ChildrenNamed(kHeldBooter).empty(); });
        TheGate().Release();
        const absl::Status failed = nursery.WaitResult(errorer).status();
        // The errorer is gone once the nursery has handled its failure
        // (recorded it and cancelled every child it knew).
        const pid_t errorer_pid = Child("errorer").pid;
        PollUntil(deadline, [errorer_pid] { return Gone(errorer_pid); });
        std::ofstream(HoldFile()).put('\n');
        const absl::Status started = starter.Wait();
        EXPECT_FALSE(failed.ok());
        EXPECT_TRUE(Gone(errorer_pid));
        return started;
      },
      Escalation(), absl::Seconds(20));
  std::remove(HoldFile().c_str());

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
  EXPECT_EQ(info.type(), "ValueError");
  EXPECT_EQ(info.source().name(), "errorer");
  EXPECT_FALSE(absl::StrContains(DescribeError(status), "watchdog"))
      << "the nursery hung until its watchdog fired ("
      << absl::FormatDuration(absl::Now() - start) << "); late-daemon "
      << (late.ok() ? "had started" : "was refused");
  EXPECT_NE(Child(kHeldBooter).pid, 0);
}

// --- 7. Graceful cancel of a daemon wins over the hard-kill path ---

TEST_F(NurseryTest, CancellingAnIdleDaemonIsFasterThanTheSigtermStep) {
  // A cancel step long enough that SIGTERM cannot end the measurement.
  Escalation patient;
  patient.cancel_timeout = absl::Seconds(10);
  absl::Time cancelled_at;
  pid_t pid = 0;
  const absl::Status status = OpenNursery(
      [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * daemon,
                                nursery.StartActor("idle", Patient()));
        TETHER_ASSIGN_OR_RETURN(pid, PidOf(*daemon));
        cancelled_at = absl::Now();
        nursery.CancelAll();
        return absl::OkStatus();
      },
      patient);
  const absl::Duration teardown = absl::Now() - cancelled_at;

  EXPECT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_LT(teardown, Escalation().cancel_timeout)
      << "cancelling an idle daemon took " << teardown;
  EXPECT_TRUE(Gone(pid));
  EXPECT_EQ(Child("idle").exit_code, 0);
}

// --- A daemon that dies unexpectedly ---

TEST_F(NurseryTest, DaemonKilledBySigkillFailsTheNurseryAndCancelsSiblings) {
  pid_t victim_pid = 0;
  pid_t sibling_pid = 0;
  absl::Status sibling_outcome = absl::UnknownError("never set");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * victim,
                                nursery.StartActor("victim", Patient()));
        TETHER_ASSIGN_OR_RETURN(Portal * sibling,
                                nursery.StartActor("sibling", Patient()));
        TETHER_ASSIGN_OR_RETURN(victim_pid, PidOf(*victim));
        TETHER_ASSIGN_OR_RETURN(sibling_pid, PidOf(*sibling));
        TaskGroup holders;
        absl::Notification sleeping;
        holders.Spawn("sibling", [&]() -> absl::Status {
          sibling_outcome = sibling->OpenContext(
              "sleep_forever", Value(),
              [&](Context& ctx, const Value&) -> absl::Status {
                sleeping.Notify();
                return ctx.Result().status();
              });
          return absl::OkStatus();
        });
        if (!sleeping.WaitForNotificationWithTimeout(kStepTimeout)) {
          holders.CancelAll(absl::DeadlineExceededError("no sleep_forever"));
          holders.Wait().IgnoreError();
          return absl::DeadlineExceededError("sleep_forever never started");
        }
        if (kill(victim_pid, SIGKILL) != 0) {
          holders.CancelAll(absl::InternalError("kill failed"));
          holders.Wait().IgnoreError();
          return absl::InternalError(
              absl::StrCat("kill(", victim_pid, "): ", strerror(errno)));
        }
        // Ends once the nursery has cancelled the sibling.
        return holders.Wait();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.type(), kActorFailureType);
  EXPECT_EQ(info.source().name(), "victim");
  EXPECT_TRUE(absl::StrContains(info.message(), "signal 9")) << info.message();
  const v1::ErrorInfo sibling_info = InfoOf(sibling_outcome);
  EXPECT_EQ(sibling_info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << DescribeError(sibling_outcome);
  EXPECT_EQ(sibling_info.canceller().uuid(), root().id().uuid());
  EXPECT_TRUE(Gone(victim_pid));
  EXPECT_TRUE(Gone(sibling_pid));
  EXPECT_FALSE(Child("victim").exit_code.has_value());
  EXPECT_EQ(Child("sibling").exit_code, 0);
}
}  // namespace
}  // namespace tether::nursery_test
