// In-process end-to-end checks of Portal against an ActorServer over real
// loopback gRPC; the multi-process semantics suite lives in tests/.

#include "tether/portal.h"

#include <pthread.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/task/internal/thread_cache.h"
#include "server/actor_server.h"
#include "testing/poll_until.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/task.h"

namespace tether {
namespace {

// A JSON value one level deeper than may travel.
Value TooDeep() {
  Value value = Value::Int(1);
  for (int i = 0; i <= Value::kMaxJsonDepth; ++i) value = Value::List({value});
  return value;
}

// How long the busy callees below compute before they give up on the
// opener; far above what a passing test takes.
constexpr absl::Duration kBusyLimit = absl::Seconds(20);

// Set by the opener once it has every payload of "send_then_compute".
std::atomic<bool> opener_has_all{false};

ActorIdentity Identity(const std::string& name) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create(name);
  EXPECT_TRUE(identity.ok());
  return *identity;
}

class PortalTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        functions_
            .RegisterPlain(
                "echo",
                [](const Value& args) -> absl::StatusOr<Value> { return args; })
            .ok());
    ASSERT_TRUE(functions_
                    .RegisterPlain("throws",
                                   [](const Value&) -> absl::StatusOr<Value> {
                                     throw std::runtime_error("kaboom");
                                   })
                    .ok());
    ASSERT_TRUE(
        functions_
            .RegisterContext(
                "counter",
                [](Context& ctx, const Value& args) -> absl::StatusOr<Value> {
                  TETHER_ASSIGN_OR_RETURN(int64_t n, args.AsInt());
                  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(0)));
                  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
                  for (int64_t i = 1; i <= n; ++i) {
                    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
                  }
                  TETHER_RETURN_IF_ERROR(stream.Close());
                  return Value::Int(n);
                })
            .ok());
    ASSERT_TRUE(
        functions_
            .RegisterContext(
                "sleep_forever",
                [](Context& ctx, const Value&) -> absl::StatusOr<Value> {
                  TETHER_RETURN_IF_ERROR(ctx.Started());
                  TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
                  return Value::String("woke up");
                })
            .ok());
    ASSERT_TRUE(functions_
                    .RegisterPlain("too_deep",
                                   [](const Value&) -> absl::StatusOr<Value> {
                                     return TooDeep();
                                   })
                    .ok());
    ASSERT_TRUE(functions_
                    .RegisterPlain("serving_thread",
                                   [](const Value&) -> absl::StatusOr<Value> {
                                     if (ActorCore::Current() == nullptr) {
                                       return absl::InternalError("no actor");
                                     }
                                     return Value::Int(
                                         static_cast<int64_t>(pthread_self()));
                                   })
                    .ok());
    // Both answer {"bytes": n} with a string of n characters: as the
    // result, or as the Started value (reporting how Started went).
    ASSERT_TRUE(functions_
                    .RegisterPlain(
                        "string_of",
                        [](const Value& args) -> absl::StatusOr<Value> {
                          TETHER_ASSIGN_OR_RETURN(int64_t bytes, args.AsInt());
                          return Value::String(std::string(bytes, 'x'));
                        })
                    .ok());
    ASSERT_TRUE(
        functions_
            .RegisterContext(
                "started_with_string_of",
                [](Context& ctx, const Value& args) -> absl::StatusOr<Value> {
                  TETHER_ASSIGN_OR_RETURN(int64_t bytes, args.AsInt());
                  const absl::Status large =
                      ctx.Started(Value::String(std::string(bytes, 'x')));
                  if (large.ok()) return Value::String("sent");
                  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(0)));
                  return Value::String(large.ToString());
                })
            .ok());
    // Sends three payloads, then computes without a cancellation point
    // until the opener has all three: the completions of its writes must be
    // handled although the task never waits.
    ASSERT_TRUE(
        functions_
            .RegisterContext(
                "send_then_compute",
                [](Context& ctx, const Value&) -> absl::StatusOr<Value> {
                  TETHER_RETURN_IF_ERROR(ctx.Started());
                  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
                  for (int64_t i = 1; i <= 3; ++i) {
                    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
                  }
                  const absl::Time give_up = absl::Now() + kBusyLimit;
                  while (!opener_has_all.load()) {
                    if (absl::Now() > give_up) {
                      return absl::DeadlineExceededError("still computing");
                    }
                  }
                  return Value::Int(3);
                })
            .ok());
    // Computes, checking for cancellation without ever blocking: the
    // opener's Cancel must reach it all the same.
    ASSERT_TRUE(
        functions_
            .RegisterContext(
                "compute_until_cancelled",
                [](Context& ctx, const Value&) -> absl::StatusOr<Value> {
                  TETHER_RETURN_IF_ERROR(ctx.Started());
                  const absl::Time give_up = absl::Now() + kBusyLimit;
                  while (absl::Now() < give_up) {
                    TETHER_RETURN_IF_ERROR(CheckCancelled());
                  }
                  return absl::DeadlineExceededError("never saw the cancel");
                })
            .ok());
    callee_ = std::make_unique<ActorCore>(Identity("callee"), &functions_);
    absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
        callee_.get(), *Address::Parse("127.0.0.1:0"), [](const auto&) {},
        nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    opener_ = std::make_unique<ActorCore>(Identity("opener"), &functions_);
    opener_->SetToken(callee_->token());
    portal_ = std::make_unique<Portal>(opener_.get(), server_->address());
  }

  void TearDown() override {
    portal_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::Milliseconds(100));
  }

  // The statuses of two sends on a context to sleep_forever, `refused` and
  // then a small value, which the opener then cancels; expects the context
  // to end without error.
  struct TwoSends {
    absl::Status first;
    absl::Status then;
  };
  TwoSends SendThenSendAgain(const Value& refused) {
    TwoSends sends;
    const absl::Status status = portal_->OpenContext(
        "sleep_forever", Value(),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          sends.first = stream.Send(refused);
          sends.then = stream.Send(Value::Int(1));
          ctx.Cancel();
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return sends;
  }

  FunctionRegistry functions_;
  std::unique_ptr<ActorCore> callee_;
  std::unique_ptr<ActorServer> server_;
  std::unique_ptr<ActorCore> opener_;
  std::unique_ptr<Portal> portal_;
};

TEST_F(PortalTest, RunReturnsThePlainResult) {
  absl::StatusOr<Value> result = portal_->Run("echo", Value::String("hi"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Value::String("hi"));
}

// An opener of another tree (its own token) is refused before anything
// runs: no plain call, no context.
TEST_F(PortalTest, AnotherTreesOpenerIsRefusedAndNothingRuns) {
  std::atomic<int> ran{0};
  ASSERT_TRUE(functions_
                  .RegisterPlain("count_runs",
                                 [&ran](const Value&) -> absl::StatusOr<Value> {
                                   ++ran;
                                   return Value();
                                 })
                  .ok());
  ActorCore stranger(Identity("stranger"), &functions_);
  Portal portal(&stranger, server_->address());
  const absl::StatusOr<Value> run = portal.Run("count_runs");
  EXPECT_TRUE(absl::IsUnauthenticated(run.status())) << run.status();
  const absl::Status context = portal.OpenContext(
      "count_runs", Value(),
      [](Context&, const Value&) { return absl::OkStatus(); });
  EXPECT_TRUE(absl::IsUnauthenticated(context)) << context;
  EXPECT_EQ(ran.load(), 0);
  // The tree's own opener still runs it.
  ASSERT_TRUE(portal_->Run("count_runs").ok());
  EXPECT_EQ(ran.load(), 1);
}

TEST_F(PortalTest, ThrownExceptionIsBoxedWithItsType) {
  absl::StatusOr<Value> result = portal_->Run("throws");
  ASSERT_FALSE(result.ok());
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(result.status());
  ASSERT_TRUE(info.has_value()) << result.status();
  EXPECT_EQ(info->type(), "std::runtime_error");
  EXPECT_EQ(info->message(), "kaboom");
  EXPECT_EQ(info->source().uuid(), callee_->id().uuid());
}

TEST_F(PortalTest, UnknownFunctionIsNamed) {
  absl::StatusOr<Value> result = portal_->Run("nope");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(GetErrorInfo(result.status())->kind(),
            v1::ERROR_KIND_NO_SUCH_FUNCTION);
  EXPECT_NE(result.status().message().find("nope"), absl::string_view::npos);
}

TEST_F(PortalTest, ContextStreamsThenReturns) {
  std::vector<int64_t> seen;
  absl::StatusOr<Value> result;
  const absl::Status status = portal_->OpenContext(
      "counter", Value::Int(5),
      [&](Context& ctx, const Value& started) -> absl::Status {
        EXPECT_EQ(started, Value::Int(0));
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (const Value& v : stream) seen.push_back(*v.AsInt());
        TETHER_RETURN_IF_ERROR(stream.status());
        result = ctx.Result();
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Value::Int(5));
}

// Actor/Info's counters: contexts per role, and frames of open and
// finished streams.
TEST_F(PortalTest, InfoCountsContextsAndFrames) {
  std::vector<uint64_t> open_frames_received;
  const absl::Status status = portal_->OpenContext(
      "counter", Value::Int(3),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (const Value& v : stream) EXPECT_TRUE(v.AsInt().ok());
        TETHER_RETURN_IF_ERROR(stream.status());
        for (const v1::ContextInfo& info : opener_->DescribeContexts()) {
          open_frames_received.push_back(info.frames_received());
        }
        return ctx.Result().status();
      });
  ASSERT_TRUE(status.ok()) << status;
  // StartAck, Started, at least one Yield, Stop: all read before the
  // stream's end was delivered.
  ASSERT_EQ(open_frames_received.size(), 1u);
  EXPECT_GE(open_frames_received[0], 4u);

  // The callee drops the context once its stream is done.
  ASSERT_TRUE(PollUntil(absl::Now() + absl::Seconds(10),
                        [&] { return callee_->DescribeContexts().empty(); }));
  EXPECT_EQ(opener_->contexts_opened(), 1u);
  EXPECT_EQ(opener_->contexts_served(), 0u);
  EXPECT_EQ(callee_->contexts_served(), 1u);
  // Every frame the callee wrote was read: the opener waited for the end of
  // the call.
  EXPECT_GE(callee_->frames_sent(), 5u);  // ... and Return.
  EXPECT_EQ(opener_->frames_received(), callee_->frames_sent());
  EXPECT_GE(opener_->frames_sent(), 1u);  // Start.
  EXPECT_GE(callee_->frames_received(), 1u);
  EXPECT_LE(callee_->frames_received(), opener_->frames_sent());
}

TEST_F(PortalTest, OpenerCancelIsAbsorbed) {
  bool acked = false;
  absl::Status result_status;
  const absl::Status status =
      portal_->OpenContext("sleep_forever", Value(),
                           [&](Context& ctx, const Value&) -> absl::Status {
                             ctx.Cancel();
                             result_status = ctx.Result().status();
                             acked = ctx.cancel_acked();
                             return absl::OkStatus();
                           });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(IsContextCancelled(result_status)) << result_status;
  EXPECT_EQ(GetErrorInfo(result_status)->canceller().uuid(),
            opener_->id().uuid());
  EXPECT_TRUE(acked);
}

// A callee that goes on computing after its sends, without blocking,
// still delivers them: something other than its own waits handles the
// completions of its writes.
TEST_F(PortalTest, PayloadsSentBeforeComputingArrive) {
  opener_has_all = false;
  std::vector<Value> received;
  const absl::Status status = portal_->OpenContext(
      "send_then_compute", Value(),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        const absl::Time deadline = absl::Now() + absl::Seconds(10);
        for (int i = 0; i < 3; ++i) {
          TETHER_ASSIGN_OR_RETURN(Value value, stream.Receive(deadline));
          received.push_back(std::move(value));
        }
        opener_has_all = true;
        return ctx.Result().status();
      });
  opener_has_all = true;  // Ends the callee's loop whatever happened.
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(received, testing::ElementsAre(Value::Int(1), Value::Int(2),
                                             Value::Int(3)));
}

// A callee that only checks for cancellation, never blocking, sees the
// opener's Cancel.
TEST_F(PortalTest, ComputingCalleeSeesTheOpenersCancel) {
  absl::Status result;
  const absl::Status status =
      portal_->OpenContext("compute_until_cancelled", Value(),
                           [&](Context& ctx, const Value&) -> absl::Status {
                             ctx.Cancel();
                             result = ctx.Result().status();
                             return absl::OkStatus();
                           });
  EXPECT_TRUE(status.ok()) << status;
  ASSERT_TRUE(IsContextCancelled(result)) << result;
  EXPECT_EQ(GetErrorInfo(result)->canceller().uuid(), opener_->id().uuid());
}

// Run() asks for a plain function and OpenContext() for a context
// function; the other kind is refused, naming both.
TEST_F(PortalTest, KindMismatchNamesBothKinds) {
  const absl::StatusOr<Value> run = portal_->Run("counter", Value::Int(1));
  ASSERT_FALSE(run.ok());
  ASSERT_TRUE(GetErrorInfo(run.status()).has_value()) << run.status();
  EXPECT_EQ(GetErrorInfo(run.status())->kind(), v1::ERROR_KIND_BAD_ARGUMENT);
  EXPECT_NE(run.status().message().find(
                "'counter' is a context function, not a plain function"),
            absl::string_view::npos)
      << run.status();

  const absl::Status opened = portal_->OpenContext(
      "echo", Value(),
      [](Context&, const Value&) -> absl::Status { return absl::OkStatus(); });
  EXPECT_NE(opened.message().find(
                "'echo' is a plain function, not a context function"),
            absl::string_view::npos)
      << opened;
}

// A value nested too deep for a frame is refused where it is sent, and
// the context goes on.
TEST_F(PortalTest, ValuesNestedTooDeepAreRefusedBeforeSending) {
  const absl::StatusOr<Value> run = portal_->Run("echo", TooDeep());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument)
      << run.status();
  EXPECT_FALSE(GetErrorInfo(run.status()).has_value()) << "not a remote error";

  const TwoSends sends = SendThenSendAgain(TooDeep());
  EXPECT_EQ(sends.first.code(), absl::StatusCode::kInvalidArgument)
      << sends.first;
  EXPECT_TRUE(sends.then.ok()) << sends.then;

  // A callee's result too deep to send fails its function, by name.
  const absl::StatusOr<Value> result = portal_->Run("too_deep");
  ASSERT_TRUE(IsRemoteError(result.status(), opener_->id())) << result.status();
  EXPECT_NE(result.status().message().find("the result cannot be sent"),
            absl::string_view::npos)
      << result.status();
}

// A payload larger than the callee's frame limit (its StartAck says) is
// refused where it is sent, not answered as a violation that ends the
// context.
TEST_F(PortalTest, PayloadAboveTheCalleesFrameLimitIsRefusedBeforeSending) {
  const TwoSends sends =
      SendThenSendAgain(Value::String(std::string(5 << 20, 'x')));
  EXPECT_EQ(sends.first.code(), absl::StatusCode::kInvalidArgument)
      << sends.first;
  EXPECT_TRUE(sends.then.ok()) << sends.then;
}

// The opener's Start announces its frame limit (16 MB), so a callee's
// result or Started value that could not fit is refused where it is sent:
// the opener hears why rather than losing the call to gRPC's limit.
constexpr int64_t kAboveTheOpenersLimit = 17 << 20;

TEST_F(PortalTest, ResultAboveTheOpenersFrameLimitBecomesAnError) {
  const absl::StatusOr<Value> result =
      portal_->Run("string_of", Value::Int(kAboveTheOpenersLimit));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("the result cannot be sent"),
            absl::string_view::npos)
      << result.status();
  EXPECT_NE(result.status().message().find(
                "frame the receiver accepts (16777216 bytes)"),
            absl::string_view::npos)
      << result.status();
  // A result that fits still arrives.
  const absl::StatusOr<Value> fits = portal_->Run("string_of", Value::Int(10));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(*fits, Value::String(std::string(10, 'x')));
}

TEST_F(PortalTest, StartedValueAboveTheOpenersFrameLimitIsRefused) {
  std::optional<Value> started;
  const absl::Status status = portal_->OpenContext(
      "started_with_string_of", Value::Int(kAboveTheOpenersLimit),
      [&](Context& ctx, const Value& value) -> absl::Status {
        started = value;
        TETHER_ASSIGN_OR_RETURN(Value result, ctx.Result());
        EXPECT_NE(result.ToJson().find("does not fit"), std::string::npos)
            << result.ToJson();
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(started, Value::Int(0));
}

// A send after this side's Stop is refused and says why.
TEST_F(PortalTest, SendAfterCloseIsRefused) {
  absl::Status sent;
  const absl::Status status = portal_->OpenContext(
      "sleep_forever", Value(),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(1)));
        TETHER_RETURN_IF_ERROR(stream.Close());
        sent = stream.Send(Value::Int(2));
        ctx.Cancel();
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(sent.code(), absl::StatusCode::kFailedPrecondition) << sent;
  EXPECT_NE(sent.message().find("Stop sent"), absl::string_view::npos) << sent;
}

TEST_F(PortalTest, BlockErrorComesOutAndCancelsTheCallee) {
  const absl::Status status = portal_->OpenContext(
      "sleep_forever", Value(), [&](Context&, const Value&) -> absl::Status {
        return absl::DataLossError("block failed");
      });
  EXPECT_EQ(status, absl::DataLossError("block failed"));
  EXPECT_TRUE(callee_->AwaitServingDone(absl::Seconds(10)));
}

// Task threads are reused (runtime/task/internal/thread_cache.h): the next task
// on a serving task's thread must not find that actor as its own.
TEST_F(PortalTest, AServingTasksThreadForgetsItsActor) {
  absl::StatusOr<Value> served = portal_->Run("serving_thread");
  ASSERT_TRUE(served.ok()) << served.status();
  const auto served_on = static_cast<pthread_t>(*served->AsInt());
  // Occupies every idle thread at once, so the serving thread is among
  // them once it is idle again (it goes idle just after replying).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool reused = false;
  while (!reused && absl::Now() < deadline) {
    const size_t tasks = task_internal::ThreadCache::idle() + 1;
    absl::Mutex mu;
    size_t started = 0;
    const auto all_started = [&] { return started == tasks; };
    TaskGroup group;
    for (size_t i = 0; i < tasks; ++i) {
      group.Spawn("after", [&] {
        absl::MutexLock lock(&mu);
        ++started;
        mu.Await(absl::Condition(&all_started));
        if (pthread_equal(pthread_self(), served_on)) {
          reused = true;
          EXPECT_EQ(ActorCore::Current(), nullptr);
        }
        return absl::OkStatus();
      });
    }
    ASSERT_TRUE(group.Wait().ok());
  }
  EXPECT_TRUE(reused) << "the serving thread never ran a later task";
}

}  // namespace
}  // namespace tether
