// Multi-process context semantics, after tractor's
// test_context_stream_semantics.py, test_2way.py, test_remote_exc_relay.py
// and test_rpc.py: this test process is the opener (an actor with its own
// server, so it has an address for out-of-band signals), and the callee is
// a child process running tests/context_test_actor.
//
// Hang guards: every wait has a deadline; a per-test watchdog cancels the
// test thread's scope (so every runtime call returns) when a test runs too
// long, and aborts if even that does not end it; Bazel's timeout is last.
// Every child is killed and reaped when its test ends, which TearDown
// checks.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "client/portal.h"
#include "gtest/gtest.h"
#include "runtime/actor_identity.h"
#include "runtime/actor_runtime.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/function_registry.h"
#include "runtime/status_macros.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "server/actor_server.h"
#include "tests/actor_process.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {
namespace {

// Bound of every single wait in a test.
constexpr absl::Duration kWait = absl::Seconds(10);
// A test that runs longer is cancelled by the watchdog (a passing test
// takes well under a second)...
constexpr absl::Duration kTestDeadline = absl::Seconds(20);
// ...and the process aborted if the cancel does not end it either.
constexpr absl::Duration kAbortGrace = absl::Seconds(10);

absl::Time Deadline() { return absl::Now() + kWait; }

// Cancels the scope of the thread that created it once `deadline` has
// passed; aborts the process if the test is still running `kAbortGrace`
// later. Create and destroy it on the test thread.
class Watchdog {
 public:
  explicit Watchdog(absl::Duration deadline)
      : thread_([this, deadline, handle = scope_.handle()] {
          if (done_.WaitForNotificationWithTimeout(deadline)) return;
          ADD_FAILURE() << "the test ran past its " << deadline
                        << " deadline; cancelling it";
          handle.Cancel(absl::DeadlineExceededError("test watchdog"));
          if (done_.WaitForNotificationWithTimeout(kAbortGrace)) return;
          std::fprintf(stderr, "the test ignored its watchdog's cancel\n");
          std::abort();
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    done_.Notify();
    thread_.join();
  }

 private:
  CancelScope scope_;
  absl::Notification done_;
  std::thread thread_;
};

// Whether the process `pid` no longer exists (it was reaped).
bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

ActorIdentity Identity(const std::string& name) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create(name);
  EXPECT_TRUE(identity.ok()) << identity.status();
  return *identity;
}

// The ErrorInfo of a failed status, or an empty one (and a test failure).
v1::ErrorInfo InfoOf(const absl::Status& status) {
  std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  EXPECT_TRUE(info.has_value()) << "no ErrorInfo in: " << status;
  return info.value_or(v1::ErrorInfo());
}

void ExpectCancelledBy(const absl::Status& status,
                       const v1::ActorId& canceller) {
  EXPECT_TRUE(IsContextCancelled(status)) << DescribeError(status);
  EXPECT_EQ(InfoOf(status).canceller().uuid(), canceller.uuid())
      << DescribeError(status);
}

// A RemoteActorError: an application error of `type` raised in `source`.
void ExpectRemoteError(const absl::Status& status, absl::string_view type,
                       const v1::ActorId& source) {
  EXPECT_FALSE(status.ok());
  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
  EXPECT_EQ(info.type(), type) << DescribeError(status);
  EXPECT_EQ(info.source().uuid(), source.uuid()) << DescribeError(status);
}

class ContextSemanticsTest : public testing::Test {
 protected:
  void SetUp() override {
    watchdog_ = std::make_unique<Watchdog>(kTestDeadline);
    runtime_ = std::make_unique<ActorRuntime>(Identity("opener"), &functions_);
    absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
        runtime_.get(), *Address::Parse("127.0.0.1:0"), [](const auto&) {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    callee_ = StartActor("callee");
    ASSERT_NE(callee_, nullptr);
    callee_id_ = IdOf(*callee_);
    portal_ = std::make_unique<Portal>(runtime_.get(), callee_->address());
  }

  void TearDown() override {
    portal_.reset();
    for (std::unique_ptr<ActorProcess>& child : children_) {
      const pid_t pid = child->pid();
      child.reset();
      EXPECT_TRUE(ProcessGone(pid)) << "child " << pid << " outlived its test";
    }
    if (server_ != nullptr) server_->Shutdown(absl::Milliseconds(100));
    server_.reset();
    runtime_.reset();
    watchdog_.reset();
  }

  // Starts a test actor named `name`; null (and a test failure) if it
  // cannot.
  ActorProcess* StartActor(const std::string& name) {
    absl::StatusOr<std::unique_ptr<ActorProcess>> child = ActorProcess::Start(
        RunfilePath("tests/context_test_actor"), {"--name=" + name});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return nullptr;
    children_.push_back(*std::move(child));
    return children_.back().get();
  }

  static v1::ActorId IdOf(const ActorProcess& actor) {
    absl::StatusOr<v1::ActorInfo> info =
        ActorClient::Dial(actor.address()).Info(kWait);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->id() : v1::ActorId();
  }

  v1::ActorId opener_id() const { return runtime_->id(); }

  // Asks the callee actor how the task tagged `tag` is doing, waiting up to
  // kWait for it to reach `state`.
  struct TaskState {
    std::string state;
    std::string canceller;
  };
  TaskState AwaitTaskState(const std::string& tag, const std::string& state) {
    absl::StatusOr<Value> answer = portal_->Run(
        "task_state",
        Value::Object(
            {{"tag", Value::String(tag)},
             {"state", Value::String(state)},
             {"timeout_ms", Value::Int(absl::ToInt64Milliseconds(kWait))}}));
    EXPECT_TRUE(answer.ok()) << DescribeError(answer.status());
    if (!answer.ok()) return {};
    TaskState result;
    result.state = answer->Field("state")->AsString().value_or("");
    result.canceller = answer->Field("canceller")->AsString().value_or("");
    return result;
  }

  FunctionRegistry functions_;  // The opener serves nothing.
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<ActorRuntime> runtime_;
  std::unique_ptr<ActorServer> server_;
  std::vector<std::unique_ptr<ActorProcess>> children_;
  ActorProcess* callee_ = nullptr;
  v1::ActorId callee_id_;
  std::unique_ptr<Portal> portal_;
};

Value SimpleArgs(int64_t data, bool block_forever = false,
                 const std::string& tag = "") {
  return Value::Object({{"data", Value::Int(data)},
                        {"block_forever", Value::Bool(block_forever)},
                        {"tag", Value::String(tag)}});
}

Value Tagged(const std::string& tag) {
  return Value::Object({{"tag", Value::String(tag)}});
}

// --- 1. Misuse of Started ---

TEST_F(ContextSemanticsTest, StartedTwiceIsARemoteLogicError) {
  absl::Status slept;
  const absl::Status status = portal_->OpenContext(
      "started_twice", Value(), [&](Context&, const Value&) -> absl::Status {
        // The callee's error cancels this block.
        slept = Sleep(kWait);
        return slept;
      });
  ExpectRemoteError(status, "std::logic_error", callee_id_);
  EXPECT_TRUE(absl::StrContains(InfoOf(status).message(), "twice"))
      << DescribeError(status);
  EXPECT_FALSE(slept.ok()) << "the callee's error did not cancel the block";
}

TEST_F(ContextSemanticsTest, StreamBeforeStartedIsARemoteLogicError) {
  bool block_ran = false;
  const absl::Status status =
      portal_->OpenContext("stream_before_started", Value(),
                           [&](Context&, const Value&) -> absl::Status {
                             block_ran = true;
                             return absl::OkStatus();
                           });
  ExpectRemoteError(status, "std::logic_error", callee_id_);
  EXPECT_FALSE(block_ran) << "the block ran without a Started value";
}

// --- 2. Started value and result ---

TEST_F(ContextSemanticsTest, StartedValueThenResult) {
  Value started;
  absl::StatusOr<Value> result;
  const absl::Status status = portal_->OpenContext(
      "simple", SimpleArgs(10),
      [&](Context& ctx, const Value& first) -> absl::Status {
        started = first;
        result = ctx.Result(Deadline());
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_EQ(started, Value::Int(11));
  ASSERT_TRUE(result.ok()) << DescribeError(result.status());
  EXPECT_EQ(*result, Value::String("yo"));
}

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

// --- 7. The callee closes its stream at once ---

TEST_F(ContextSemanticsTest, CalleeClosingItsStreamEndsIteration) {
  int iterations = 0;
  absl::Status iteration_status = absl::UnknownError("not iterated");
  absl::Status next_status;
  absl::StatusOr<Value> result;
  const absl::Status status = portal_->OpenContext(
      "close_stream_at_once", Value(),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (const Value& value : stream) {
          ADD_FAILURE() << "unexpected value " << value.ToJson();
          ++iterations;
        }
        iteration_status = stream.status();
        next_status = stream.Receive(Deadline()).status();
        result = ctx.Result(Deadline());
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_EQ(iterations, 0);
  EXPECT_TRUE(iteration_status.ok()) << DescribeError(iteration_status);
  EXPECT_TRUE(absl::IsOutOfRange(next_status)) << next_status;
  ASSERT_TRUE(result.ok()) << DescribeError(result.status());
  EXPECT_EQ(*result, Value::String("closed"));
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

// --- 14. Streaming: exact end of stream; no value lost to cancellation ---

TEST_F(ContextSemanticsTest, PingPongEndsAfterExactlyTenRounds) {
  constexpr int64_t kRounds = 10;
  std::vector<Value> pongs;
  absl::StatusOr<Value> result;
  const absl::Status status = portal_->OpenContext(
      "ping_pong", Value(), [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (int64_t i = 0; i < kRounds; ++i) {
          TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i), Deadline()));
          TETHER_ASSIGN_OR_RETURN(Value pong, stream.Receive(Deadline()));
          pongs.push_back(std::move(pong));
        }
        TETHER_RETURN_IF_ERROR(stream.Close());
        result = ctx.Result(Deadline());
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << DescribeError(status);
  ASSERT_EQ(pongs.size(), static_cast<size_t>(kRounds));
  for (int64_t i = 0; i < kRounds; ++i) EXPECT_EQ(pongs[i], Value::Int(i));
  ASSERT_TRUE(result.ok()) << DescribeError(result.status());
  EXPECT_EQ(*result, Value::Int(kRounds));
}

TEST_F(ContextSemanticsTest, RestartedConsumerLosesNoValues) {
  constexpr int64_t kValues = 400;
  const absl::Status restart = absl::CancelledError("consumer restart");
  absl::Mutex mu;
  WaitSet progress;
  std::vector<int64_t> received;
  int cancellations = 0;
  absl::Status end_of_stream;
  ContextOptions options;
  // Room for everything: overruns are not what this test is about.
  options.buffer_size = kValues + 16;
  const absl::Status status = portal_->OpenContext(
      "paced_counter",
      Value::Object({{"n", Value::Int(kValues)}, {"gap_us", Value::Int(200)}}),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (int round = 0;; ++round) {
          size_t target;
          {
            absl::MutexLock lock(&mu);
            if (received.size() == kValues) break;
            // Let the consumer take 1 to 5 values, then cancel it.
            target = std::min<size_t>(received.size() + 1 + round % 5,
                                      static_cast<size_t>(kValues));
          }
          TaskGroup consumer;
          consumer.Spawn("consumer", [&]() -> absl::Status {
            while (true) {
              {
                absl::MutexLock lock(&mu);
                if (received.size() == kValues) return absl::OkStatus();
              }
              TETHER_ASSIGN_OR_RETURN(Value value, stream.Receive(Deadline()));
              TETHER_ASSIGN_OR_RETURN(int64_t n, value.AsInt());
              absl::MutexLock lock(&mu);
              received.push_back(n);
              progress.NotifyAll();
            }
          });
          {
            absl::MutexLock lock(&mu);
            TETHER_RETURN_IF_ERROR(AwaitLocked(
                mu, progress,
                [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
                  return received.size() >= target;
                },
                Deadline()));
          }
          consumer.CancelAll(restart);
          const absl::Status ended = consumer.Wait();
          if (ended == restart) {
            ++cancellations;
          } else if (!ended.ok()) {
            return ended;
          }
        }
        end_of_stream = stream.Receive(Deadline()).status();
        return absl::OkStatus();
      },
      options);
  ASSERT_TRUE(status.ok()) << DescribeError(status);
  std::vector<int64_t> expected(kValues);
  for (int64_t i = 0; i < kValues; ++i) expected[i] = i + 1;
  absl::MutexLock lock(&mu);
  EXPECT_EQ(received, expected);
  EXPECT_TRUE(absl::IsOutOfRange(end_of_stream)) << end_of_stream;
  // The consumer really was cancelled mid-stream, again and again.
  EXPECT_GE(cancellations, 10);
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

// --- 16. Unknown functions and arguments of the wrong type ---

TEST_F(ContextSemanticsTest, UnknownFunctionIsNamed) {
  absl::StatusOr<Value> ran = portal_->Run("no_such_plain_function");
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(InfoOf(ran.status()).kind(), v1::ERROR_KIND_NO_SUCH_FUNCTION);
  EXPECT_TRUE(
      absl::StrContains(ran.status().message(), "no_such_plain_function"))
      << DescribeError(ran.status());

  bool block_ran = false;
  const absl::Status opened =
      portal_->OpenContext("no_such_context_function", Value(),
                           [&](Context&, const Value&) -> absl::Status {
                             block_ran = true;
                             return absl::OkStatus();
                           });
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(InfoOf(opened).kind(), v1::ERROR_KIND_NO_SUCH_FUNCTION);
  EXPECT_TRUE(absl::StrContains(opened.message(), "no_such_context_function"))
      << DescribeError(opened);
  EXPECT_EQ(InfoOf(opened).source().uuid(), callee_id_.uuid());
  EXPECT_FALSE(block_ran);
}

TEST_F(ContextSemanticsTest, WrongArgumentTypeNamesTheExpectedMessage) {
  absl::StatusOr<Value> ran = portal_->Run("typed_whois", Value::Int(3));
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(InfoOf(ran.status()).kind(), v1::ERROR_KIND_BAD_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(ran.status().message(), "tether.v1.ActorId"))
      << DescribeError(ran.status());

  bool block_ran = false;
  const absl::Status opened =
      portal_->OpenContext("typed_started", Value::String("not an id"),
                           [&](Context&, const Value&) -> absl::Status {
                             block_ran = true;
                             return absl::OkStatus();
                           });
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(InfoOf(opened).kind(), v1::ERROR_KIND_BAD_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(opened.message(), "tether.v1.ActorId"))
      << DescribeError(opened);
  EXPECT_FALSE(block_ran);

  // The right type gets through.
  absl::StatusOr<Value> whois =
      portal_->Run("typed_whois", Value::Message(callee_id_));
  ASSERT_TRUE(whois.ok()) << DescribeError(whois.status());
  EXPECT_EQ(*whois, Value::String("callee"));
  absl::StatusOr<v1::ActorId> started_id;
  const absl::Status typed =
      portal_->OpenContext("typed_started", Value::Message(callee_id_),
                           [&](Context&, const Value& started) -> absl::Status {
                             started_id = started.As<v1::ActorId>();
                             return absl::OkStatus();
                           });
  EXPECT_TRUE(typed.ok()) << DescribeError(typed);
  ASSERT_TRUE(started_id.ok()) << started_id.status();
  EXPECT_EQ(started_id->uuid(), callee_id_.uuid());
}

// --- Error relay through a second actor ---

TEST_F(ContextSemanticsTest, RelayedErrorKeepsTypeSourceAndPath) {
  ActorProcess* second = StartActor("second");
  ASSERT_NE(second, nullptr);
  const v1::ActorId second_id = IdOf(*second);
  absl::StatusOr<Value> result = portal_->Run(
      "call_peer",
      Value::Object(
          {{"address", Value::String(second->address().ToString())},
           {"function", Value::String("fail")},
           {"args", Value::Object({{"type", Value::String("ValueError")},
                                   {"message", Value::String("boom")}})}}));
  ASSERT_FALSE(result.ok());
  ExpectRemoteError(result.status(), "ValueError", second_id);
  const v1::ErrorInfo info = InfoOf(result.status());
  EXPECT_EQ(info.message(), "boom");
  ASSERT_EQ(info.relay_path_size(), 2) << DescribeError(result.status());
  EXPECT_EQ(info.relay_path(0).uuid(), second_id.uuid());
  EXPECT_EQ(info.relay_path(1).uuid(), callee_id_.uuid());
}

}  // namespace
}  // namespace tether
