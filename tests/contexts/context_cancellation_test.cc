// Multi-process context cancellation
// (tests/contexts/context_semantics_fixture.h): an error in the opener's block,
// ctx.Cancel() and Portal::CancelActor() from the opener, a cancel after the
// callee returned, OpenStream after a cancel, Result() while the callee runs, a
// sibling task cancelling while another reads, a callee that cancels itself,
// and a callee error that survives a cancel met during its cleanup.

#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/contexts/context_semantics_fixture.h"
#include "tests/support/actor_process.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether::context_semantics {
namespace {

// --- 3. An error in the opener's block ---

TEST_F(ContextSemanticsTest, BlockErrorComesOutAndCancelsTheCallee) {
  const absl::Status block_error = absl::DataLossError("the block failed");
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10, /*block_forever=*/true, "blocked"),
      [&](Context&, const Value& started) -> absl::Status {
        EXPECT_EQ(started, Value::Int(11));
        return block_error;
      });
  EXPECT_EQ(status, block_error) << DescribeError(status);
  const TaskState task = AwaitTaskState("blocked", "cancelled");
  EXPECT_EQ(task.state, "cancelled");
  EXPECT_EQ(task.canceller, opener_id().uuid());
}

// --- 4. ctx.Cancel() from the opener ---

TEST_F(ContextSemanticsTest, OpenerCancelIsAbsorbedAndAcked) {
  absl::StatusOr<Value> result;
  bool acked = false;
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10, /*block_forever=*/true, "blocked"),
      [&](Context& ctx, const Value&) -> absl::Status {
        ctx.Cancel();
        result = ctx.Result(Deadline());
        acked = ctx.cancel_acked();
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << DescribeError(status);
  ASSERT_FALSE(result.ok());
  ExpectCancelledBy(result.status(), opener_id());
  EXPECT_EQ(InfoOf(result.status()).source().uuid(), callee_id_.uuid());
  EXPECT_TRUE(acked);
  const TaskState task = AwaitTaskState("blocked", "cancelled");
  EXPECT_EQ(task.state, "cancelled");
  EXPECT_EQ(task.canceller, opener_id().uuid());
}

// --- 5. Portal::CancelActor() without ctx.Cancel() ---

void ExpectExitedCleanly(ActorProcess& actor) {
  absl::StatusOr<int> exit = actor.WaitExit(kWait);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0)
      << "wait status " << *exit;
}

TEST_F(ContextSemanticsTest, ActorCancelIsNotAbsorbed) {
  absl::StatusOr<Value> result;
  bool cancel_called = true;
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10, /*block_forever=*/true),
      [&](Context& ctx, const Value&) -> absl::Status {
        absl::StatusOr<v1::ActorId> accepted = portal_->CancelActor(kWait);
        EXPECT_TRUE(accepted.ok()) << accepted.status();
        result = ctx.Result(Deadline());
        cancel_called = ctx.cancel_called();
        // The exit rules alone must bring the ContextCancelled out.
        return absl::OkStatus();
      });
  ASSERT_FALSE(result.ok());
  ExpectCancelledBy(result.status(), opener_id());
  EXPECT_FALSE(cancel_called);
  ASSERT_FALSE(status.ok()) << "an actor cancel was absorbed";
  ExpectCancelledBy(status, opener_id());
  ExpectExitedCleanly(*callee_);
}

TEST_F(ContextSemanticsTest, ActorCancelCancelsTheOpenersBlock) {
  absl::Status slept;
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10, /*block_forever=*/true),
      [&](Context&, const Value&) -> absl::Status {
        absl::StatusOr<v1::ActorId> accepted = portal_->CancelActor(kWait);
        EXPECT_TRUE(accepted.ok()) << accepted.status();
        slept = Sleep(kWait);
        return slept;
      });
  ExpectCancelledBy(slept, opener_id());
  ASSERT_FALSE(status.ok()) << "an actor cancel was absorbed";
  ExpectCancelledBy(status, opener_id());
  ExpectExitedCleanly(*callee_);
}

// --- 6. Cancel after the callee returned ---

TEST_F(ContextSemanticsTest, CancelAfterReturnKeepsTheResult) {
  absl::StatusOr<Value> before;
  absl::StatusOr<Value> after;
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10), [&](Context& ctx, const Value&) {
        before = ctx.Result(Deadline());
        ctx.Cancel();
        after = ctx.Result(Deadline());
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << DescribeError(status);
  ASSERT_TRUE(before.ok()) << DescribeError(before.status());
  EXPECT_EQ(*before, Value::String("yo"));
  ASSERT_TRUE(after.ok()) << DescribeError(after.status());
  EXPECT_EQ(*after, Value::String("yo"));
}

// --- 8. Cancel, then OpenStream ---

TEST_F(ContextSemanticsTest, OpenStreamAfterCancelFailsAndIsAbsorbed) {
  absl::Status open_status;
  const absl::Status status =
      portal_->OpenContext("expect_cancelled", Tagged("echo"),
                           [&](Context& ctx, const Value&) -> absl::Status {
                             ctx.Cancel();
                             open_status = ctx.OpenStream().status();
                             return open_status;
                           });
  EXPECT_TRUE(status.ok()) << DescribeError(status);
  ExpectCancelledBy(open_status, opener_id());
  const TaskState task = AwaitTaskState("echo", "cancelled");
  EXPECT_EQ(task.state, "cancelled");
  EXPECT_EQ(task.canceller, opener_id().uuid());

  // The context ended, not the connection: the portal opens another one.
  absl::StatusOr<Value> result;
  const absl::Status again = portal_->OpenContext(
      "simple", SimpleArgs(1), [&](Context& ctx, const Value& started) {
        EXPECT_EQ(started, Value::Int(2));
        result = ctx.Result(Deadline());
        return absl::OkStatus();
      });
  EXPECT_TRUE(again.ok()) << DescribeError(again);
  ASSERT_TRUE(result.ok()) << DescribeError(result.status());
  EXPECT_EQ(*result, Value::String("yo"));
}

// --- 9. Result() while the callee runs ---

TEST_F(ContextSemanticsTest, ResultBlocksWhileTheCalleeRuns) {
  absl::Status early;
  absl::Duration waited;
  bool outcome_known = true;
  absl::StatusOr<Value> result;
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10, /*block_forever=*/true),
      [&](Context& ctx, const Value&) -> absl::Status {
        const absl::Time start = absl::Now();
        early = ctx.Result(start + absl::Milliseconds(500)).status();
        waited = absl::Now() - start;
        outcome_known = ctx.outcome().has_value();
        ctx.Cancel();
        result = ctx.Result(Deadline());
        return absl::OkStatus();
      });
  EXPECT_TRUE(absl::IsDeadlineExceeded(early)) << early;
  EXPECT_GE(waited, absl::Milliseconds(500));
  EXPECT_FALSE(outcome_known);
  ASSERT_FALSE(result.ok());
  ExpectCancelledBy(result.status(), opener_id());
  EXPECT_TRUE(status.ok()) << DescribeError(status);
}

// --- 10. A sibling task cancels while another reads ---

TEST_F(ContextSemanticsTest, SiblingCancelEndsTheReaderAndIsAbsorbed) {
  std::vector<Value> received;
  absl::Status reader_status;
  absl::Status sibling_status = absl::UnknownError("the sibling did not run");
  const absl::Status status = portal_->OpenContext(
      "expect_cancelled", Tagged("echo"),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        absl::Notification echoed;
        TaskGroup group;
        group.Spawn("send_then_cancel", [&]() -> absl::Status {
          TETHER_RETURN_IF_ERROR(stream.Send(Value::String("yo"), Deadline()));
          if (!echoed.WaitForNotificationWithTimeout(kWait)) {
            return absl::DeadlineExceededError("the echo never came");
          }
          ctx.Cancel();
          return absl::OkStatus();
        });
        for (const Value& value : stream) {
          received.push_back(value);
          if (value == Value::String("yo")) echoed.Notify();
        }
        reader_status = stream.status();
        sibling_status = group.Wait();
        return reader_status;
      });
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], Value::String("yo"));
  EXPECT_TRUE(sibling_status.ok()) << sibling_status;
  ExpectCancelledBy(reader_status, opener_id());
  EXPECT_TRUE(status.ok()) << DescribeError(status);
  const TaskState task = AwaitTaskState("echo", "cancelled");
  EXPECT_EQ(task.state, "cancelled");
  EXPECT_EQ(task.canceller, opener_id().uuid());
}

// --- 11. The callee cancels itself before Started ---

TEST_F(ContextSemanticsTest, CalleeSelfCancelIsNotAbsorbed) {
  bool block_ran = false;
  const absl::Status status =
      portal_->OpenContext("cancel_self_before_started", Value(),
                           [&](Context&, const Value&) -> absl::Status {
                             block_ran = true;
                             return absl::OkStatus();
                           });
  ASSERT_FALSE(status.ok()) << "the callee's self-cancel was absorbed";
  ExpectCancelledBy(status, callee_id_);
  EXPECT_EQ(InfoOf(status).source().uuid(), callee_id_.uuid());
  EXPECT_FALSE(block_ran);
}

// --- 15. A callee error survives a cancel met during its cleanup ---

class ErrorInCleanupTest : public ContextSemanticsTest,
                           public testing::WithParamInterface<const char*> {};

TEST_P(ErrorInCleanupTest, OriginalErrorWins) {
  const std::string mode = GetParam();
  const std::string expected_type =
      mode == "throw" ? "std::runtime_error" : "absl::StatusCode::kDataLoss";
  Value cleanup_note;
  absl::StatusOr<Value> result;
  const absl::Status status = portal_->OpenContext(
      "fail_then_cleanup", Value::Object({{"mode", Value::String(mode)}}),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        // The callee has failed and waits in its cleanup: cancel now.
        TETHER_ASSIGN_OR_RETURN(cleanup_note, stream.Receive(Deadline()));
        ctx.Cancel();
        result = ctx.Result(Deadline());
        return result.status();
      });
  EXPECT_EQ(cleanup_note, Value::String("cleaning up"));
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(IsContextCancelled(result.status()))
      << DescribeError(result.status());
  ExpectRemoteError(result.status(), expected_type, callee_id_);
  EXPECT_FALSE(IsContextCancelled(status)) << DescribeError(status);
  ExpectRemoteError(status, expected_type, callee_id_);
}

INSTANTIATE_TEST_SUITE_P(ThrownOrReturned, ErrorInCleanupTest,
                         testing::Values("throw", "return"));
}  // namespace
}  // namespace tether::context_semantics
