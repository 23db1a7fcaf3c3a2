// Protocol violations from raw gRPC clients (the generated tether.v1.Actor
// stub, and grpc::GenericStub for bytes that are not a Frame at all)
// against a callee actor process. Each violation must be answered with an
// Error frame of kind ERROR_KIND_PROTOCOL and an INVALID_ARGUMENT status
// whose details carry the same ErrorInfo; the violating context must end
// (its task cancelled); and the actor must go on serving: a context opened
// before the abuse keeps working through it, and new calls succeed. The
// same holds for openers that cancel at an awkward moment.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "grpcpp/channel.h"
#include "gtest/gtest.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"
#include "runtime/base/uuid.h"
#include "server/context_call.h"
#include "tests/contexts/flow_test_fixture.h"
#include "tests/support/raw_opener.h"
#include "tests/support/test_token.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether {
namespace {

// Raw openers that each cancel right behind their Start, and how many run
// at once: each is one chance for the cancel to arrive while the callee is
// still handling the Start.
constexpr int kCancelsBehindStart = 200;
constexpr int kCancellingOpeners = 4;

// Bounds the healthy context's block, and how long the callee may take to
// show the effect of an abuse.
constexpr absl::Duration kBlockLimit = absl::Seconds(60);
constexpr absl::Duration kPromptly = absl::Seconds(10);

class ProtocolViolationTest : public FlowTestFixture {
 protected:
  std::shared_ptr<grpc::Channel> RawChannel() {
    return DialTree(callee_address().ToString(), TestTreeToken());
  }

  // Runs `abuse` while a healthy context with the callee is open, then
  // checks that the healthy context still echoes, that a new plain call
  // succeeds, and that no other context is left open in the callee.
  void WithHealthyContext(const std::function<void()>& abuse) {
    const absl::Status status = WithWatchdog(kBlockLimit, [&] {
      return portal().OpenContext(
          "echo_values", Value(),
          [&](Context& ctx, const Value&) -> absl::Status {
            TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
            TETHER_RETURN_IF_ERROR(stream.Send(Value::String("before")));
            TETHER_ASSIGN_OR_RETURN(Value before,
                                    stream.Receive(absl::Now() + kPromptly));
            EXPECT_EQ(before, Value::String("before"));
            abuse();
            TETHER_RETURN_IF_ERROR(stream.Send(Value::String("after")));
            TETHER_ASSIGN_OR_RETURN(Value after,
                                    stream.Receive(absl::Now() + kPromptly));
            EXPECT_EQ(after, Value::String("after"));
            TETHER_RETURN_IF_ERROR(AwaitOnlyHealthyContext());
            TETHER_RETURN_IF_ERROR(stream.Close());
            TETHER_ASSIGN_OR_RETURN(Value echoed,
                                    ctx.Result(absl::Now() + kPromptly));
            EXPECT_EQ(echoed, Value::Int(2));
            return absl::OkStatus();
          });
    });
    EXPECT_TRUE(status.ok())
        << "the healthy context broke: " << DescribeError(status);
    const absl::StatusOr<Value> pong =
        portal().Run("ping", Value::String("still serving"));
    ASSERT_TRUE(pong.ok()) << DescribeError(pong.status());
    EXPECT_EQ(*pong, Value::String("still serving"));
  }

  // Polls Actor/Info until the callee serves no context but echo_values
  // (and the probes this check itself causes).
  absl::Status AwaitOnlyHealthyContext() {
    const ActorClient client =
        ActorClient::Dial(callee_address(), TestTreeToken());
    const absl::Time deadline = absl::Now() + kPromptly;
    while (true) {
      TETHER_ASSIGN_OR_RETURN(v1::ActorInfo info,
                              client.Info(absl::Seconds(5)));
      std::string others;
      for (const v1::ContextInfo& context : info.contexts()) {
        if (context.side() == v1::ContextInfo::SIDE_CALLEE &&
            context.function() != "echo_values") {
          absl::StrAppend(&others, " ", context.function(), "/",
                          context.context_id());
        }
      }
      if (others.empty()) return absl::OkStatus();
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("contexts still open in the callee:", others));
      }
      TETHER_RETURN_IF_ERROR(Sleep(absl::Milliseconds(10)));
    }
  }

  // The callee answered with exactly one Error, last, of kind PROTOCOL, and
  // ended the call with INVALID_ARGUMENT carrying the same ErrorInfo.
  void ExpectProtocolError(const RawOutcome& outcome) {
    int errors = 0;
    for (const v1::Frame& frame : outcome.frames) errors += frame.has_error();
    EXPECT_EQ(errors, 1) << "frames: " << FrameKinds(outcome);
    ASSERT_FALSE(outcome.frames.empty())
        << "no frame at all; status " << outcome.status.error_message();
    const v1::Frame& last = outcome.frames.back();
    ASSERT_TRUE(last.has_error()) << "frames: " << FrameKinds(outcome);
    const v1::ErrorInfo& info = last.error().error();
    EXPECT_EQ(info.kind(), v1::ERROR_KIND_PROTOCOL) << info.DebugString();
    EXPECT_EQ(info.type(), kProtocolErrorType);
    EXPECT_EQ(info.source().uuid(), callee_id().uuid());
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << outcome.status.error_message();
    const v1::ErrorInfo trailer = InfoOf(ToAbslStatus(outcome.status));
    EXPECT_EQ(trailer.kind(), v1::ERROR_KIND_PROTOCOL);
    EXPECT_EQ(trailer.type(), kProtocolErrorType);
  }

  // Sends `start` (traced under `token`) alone: the callee answers with one
  // Error of kind BAD_ARGUMENT whose message has `problem`, and an
  // INVALID_ARGUMENT status, without running the function.
  void ExpectBadArgument(const v1::Frame& start, const std::string& token,
                         absl::string_view problem) {
    SCOPED_TRACE(token);
    TypedCall call(RawChannel());
    call.Write(start);
    const RawOutcome outcome = call.Finish();
    ASSERT_EQ(outcome.frames.size(), 1u) << FrameKinds(outcome);
    ASSERT_TRUE(outcome.frames.front().has_error()) << FrameKinds(outcome);
    const v1::ErrorInfo& info = outcome.frames.front().error().error();
    EXPECT_EQ(info.kind(), v1::ERROR_KIND_BAD_ARGUMENT) << info.DebugString();
    EXPECT_TRUE(absl::StrContains(info.message(), problem)) << info.message();
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << outcome.status.error_message();
    const absl::StatusOr<Value> record = Probe(token);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_FALSE(BoolField(*record, "started")) << "the function ran";
  }

  // The task of the violated context (traced under `token`) ended, failed
  // by the protocol error.
  void ExpectTaskFailedWithProtocolError(const std::string& token) {
    const absl::StatusOr<Value> record = AwaitProbe(token, Ended, kPromptly);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_PROTOCOL)
        << record->ToJson();
  }
};

TEST_F(ProtocolViolationTest, YieldBeforeStartIsRefused) {
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    v1::Frame yield;
    *yield.mutable_yield_batch()->add_values() = Value::Int(1).ToProto();
    call.Write(yield);
    const RawOutcome outcome = call.Finish();
    ExpectProtocolError(outcome);
    EXPECT_EQ(outcome.frames.size(), 1u) << "a lone Error was expected";
  });
}

// Not a violation: an opener may pipeline its data behind Start. The
// values wait in the callee's buffer until the function opens its stream.
TEST_F(ProtocolViolationTest, PipelinedYieldsWaitForTheCalleesStream) {
  TypedCall call(RawChannel());
  call.Write(StartFrame("echo_values", "pipelined"));
  for (int i = 1; i <= 3; ++i) {
    v1::Frame yield;
    *yield.mutable_yield_batch()->add_values() = Value::Int(i).ToProto();
    call.Write(yield);
  }
  v1::Frame stop;
  stop.mutable_stop()->set_data_count(3);
  call.Write(stop);
  const RawOutcome outcome = call.Finish();
  ASSERT_TRUE(outcome.status.ok())
      << outcome.status.error_message() << "; " << FrameKinds(outcome);
  // Return may overtake the echoes it counts (protocol.md §3).
  std::vector<int64_t> echoed;
  std::optional<v1::Return> returned;
  for (const v1::Frame& frame : outcome.frames) {
    if (frame.has_returned()) returned = frame.returned();
    if (!frame.has_yield_batch()) continue;
    for (const v1::Payload& payload : frame.yield_batch().values()) {
      const absl::StatusOr<Value> value = Value::FromProto(payload);
      ASSERT_TRUE(value.ok()) << value.status();
      echoed.push_back(*value->AsInt());
    }
  }
  EXPECT_EQ(echoed, (std::vector<int64_t>{1, 2, 3})) << FrameKinds(outcome);
  ASSERT_TRUE(returned.has_value()) << FrameKinds(outcome);
  EXPECT_EQ(returned->data_count(), 3u);
  EXPECT_EQ(*Value::FromProto(returned->value())->AsInt(), 3);
}

TEST_F(ProtocolViolationTest, YieldToAPlainFunctionIsAViolation) {
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    v1::Frame start = StartFrame("await_flag", "plain-yield");
    start.mutable_start()->set_kind(v1::FUNCTION_KIND_PLAIN);
    *start.mutable_start()->mutable_args() =
        Value::Object({{"token", Value::String("plain-yield")},
                       {"flag", Value::String("never")}})
            .ToProto();
    call.Write(start);
    call.Write(YieldFrame(1));
    const RawOutcome outcome = call.Finish();
    ASSERT_FALSE(outcome.frames.empty());
    EXPECT_TRUE(outcome.frames.front().has_start_ack());
    ExpectProtocolError(outcome);
  });
}

// Not a violation but bad arguments: a kind this actor does not know.
TEST_F(ProtocolViolationTest, UnknownFunctionKindIsRefused) {
  WithHealthyContext([&] {
    v1::Frame start = StartFrame("park", "unknown-kind");
    start.mutable_start()->set_kind(static_cast<v1::FunctionKind>(7));
    ExpectBadArgument(start, "unknown-kind", "unknown function kind 7");
  });
}

// What an actor keeps and shows for a context stays small: an overlong
// context id or opener is refused like a bad argument.
TEST_F(ProtocolViolationTest, OverlongContextIdOrOpenerIsRefused) {
  WithHealthyContext([&] {
    v1::Frame long_id = StartFrame("park", "long-id");
    long_id.mutable_start()->set_context_id(std::string(257, 'c'));
    v1::Frame long_opener = StartFrame("park", "long-opener");
    long_opener.mutable_start()->mutable_opener()->add_addresses(
        std::string(5000, 'a'));
    ExpectBadArgument(long_id, "long-id",
                      "a context_id of 257 bytes exceeds the limit of 256");
    ExpectBadArgument(long_opener, "long-opener", "exceeds the limit of 4096");
  });
}

TEST_F(ProtocolViolationTest, SecondStartIsAViolation) {
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    call.Write(StartFrame("park", "two-starts"));
    call.Write(StartFrame("park", "two-starts-again"));
    const RawOutcome outcome = call.Finish();
    ASSERT_FALSE(outcome.frames.empty());
    EXPECT_TRUE(outcome.frames.front().has_start_ack());
    ExpectProtocolError(outcome);
    ExpectTaskFailedWithProtocolError("two-starts");
    const absl::StatusOr<Value> second = Probe("two-starts-again");
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_FALSE(BoolField(*second, "started")) << "the second Start ran";
  });
}

// Data past the count the opener's own Stop announced (protocol.md §3)
// ends the context with a protocol error.
TEST_F(ProtocolViolationTest, PayloadsPastTheOpenersStopAreAViolation) {
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    call.Write(StartFrame("park", "past-stop"));
    v1::Frame stop;
    stop.mutable_stop()->set_data_count(0);
    call.Write(stop);
    call.Write(YieldFrame(1));
    const RawOutcome outcome = call.Finish();
    ASSERT_FALSE(outcome.frames.empty());
    EXPECT_TRUE(outcome.frames.front().has_start_ack());
    ExpectProtocolError(outcome);
    ExpectTaskFailedWithProtocolError("past-stop");
  });
}

// The same for a function that reads its stream to the end: the payload
// past the Stop is not dropped while it reads on (slow_consumer waits for a
// flag that never comes, while its stream takes the frames).
TEST_F(ProtocolViolationTest, AStreamReaderDoesNotDropPayloadsPastStop) {
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    call.Write(StartFrame("slow_consumer", "reader-past-stop"));
    v1::Frame stop;
    stop.mutable_stop()->set_data_count(0);
    call.Write(stop);
    call.Write(YieldFrame(1));
    const RawOutcome outcome = call.Finish();
    for (const v1::Frame& frame : outcome.frames) {
      EXPECT_FALSE(frame.has_returned())
          << "returned as if the payload had not come: " << FrameKinds(outcome);
    }
    ExpectProtocolError(outcome);
    ExpectTaskFailedWithProtocolError("reader-past-stop");
  });
}

TEST_F(ProtocolViolationTest, StartedFromTheOpenerIsAViolation) {
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    call.Write(StartFrame("park", "opener-started"));
    v1::Frame started;
    started.mutable_started();
    call.Write(started);
    const RawOutcome outcome = call.Finish();
    ASSERT_FALSE(outcome.frames.empty());
    EXPECT_TRUE(outcome.frames.front().has_start_ack());
    ExpectProtocolError(outcome);
    ExpectTaskFailedWithProtocolError("opener-started");
  });
}

TEST_F(ProtocolViolationTest, OversizedFrameIsAViolation) {
  const v1::Frame big = YieldFrame(kMaxFrameBytes + 1024);
  ASSERT_GT(big.ByteSizeLong(), kMaxFrameBytes);
  ASSERT_LT(big.ByteSizeLong(), 4 * kMaxFrameBytes);
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    ASSERT_TRUE(call.Write(StartFrame("park", "oversized")));
    v1::Frame frame;
    ASSERT_TRUE(call.Read(&frame));
    ASSERT_TRUE(frame.has_start_ack()) << frame.DebugString();
    EXPECT_EQ(frame.start_ack().max_frame_bytes(), kMaxFrameBytes);
    ASSERT_TRUE(call.Read(&frame));
    ASSERT_TRUE(frame.has_started()) << frame.DebugString();
    call.Write(big);
    ExpectProtocolError(call.Finish());
    ExpectTaskFailedWithProtocolError("oversized");
  });
}

TEST_F(ProtocolViolationTest, OversizedStartIsRefused) {
  v1::Frame start = StartFrame("park", "oversized-start");
  *start.mutable_start()->mutable_args() =
      Value::String(std::string(kMaxFrameBytes + 1024, 'x')).ToProto();
  ASSERT_GT(start.ByteSizeLong(), kMaxFrameBytes);
  ASSERT_LT(start.ByteSizeLong(), 4 * kMaxFrameBytes);
  WithHealthyContext([&] {
    TypedCall call(RawChannel());
    call.Write(start);
    const RawOutcome outcome = call.Finish();
    ExpectProtocolError(outcome);
    EXPECT_EQ(outcome.frames.size(), 1u) << "a lone Error was expected";
  });
}

TEST_F(ProtocolViolationTest, GarbageFirstFrameIsRefused) {
  ASSERT_FALSE(v1::Frame().ParseFromString(Garbage()));
  WithHealthyContext([&] {
    GenericCall call(RawChannel());
    ASSERT_TRUE(call.started());
    call.Write(Garbage());
    const RawOutcome outcome = call.Finish();
    ExpectProtocolError(outcome);
    EXPECT_EQ(outcome.frames.size(), 1u) << "a lone Error was expected";
  });
}

TEST_F(ProtocolViolationTest, GarbageAfterStartIsAViolation) {
  WithHealthyContext([&] {
    GenericCall call(RawChannel());
    ASSERT_TRUE(call.started());
    ASSERT_TRUE(call.Write(StartFrame("park", "garbage").SerializeAsString()));
    v1::Frame frame;
    ASSERT_TRUE(call.Read(&frame));
    ASSERT_TRUE(frame.has_start_ack()) << frame.DebugString();
    ASSERT_TRUE(call.Read(&frame));
    ASSERT_TRUE(frame.has_started()) << frame.DebugString();
    call.Write(Garbage());
    ExpectProtocolError(call.Finish());
    ExpectTaskFailedWithProtocolError("garbage");
  });
}

// A violation that lands while the callee's task is starting: the Error
// must still be the last frame (no Started after it). Repeated, because the
// window is the moment the task calls Started().
TEST_F(ProtocolViolationTest, NothingFollowsTheErrorOfAViolation) {
  WithHealthyContext([&] {
    const std::shared_ptr<grpc::Channel> channel = RawChannel();
    for (int i = 0; i < 200 && !HasFailure(); ++i) {
      SCOPED_TRACE(absl::StrCat("attempt ", i));
      TypedCall call(channel);
      call.Write(StartFrame("park", absl::StrCat("race-", i)));
      call.Write(StartFrame("park", "race-second"));
      ExpectProtocolError(call.Finish());
    }
  });
}

// The cancel may arrive while the callee still handles the Start, before
// the context exists. It must still reach the task: the lost cancel left
// the task parked for ever and its context open.
TEST_F(ProtocolViolationTest, CancelRightBehindStartEndsTheTask) {
  WithHealthyContext([&] {
    std::vector<std::thread> openers;
    for (int i = 0; i < kCancellingOpeners; ++i) {
      openers.emplace_back([&] {
        for (int j = 0; j < kCancelsBehindStart; ++j) {
          TypedCall call(RawChannel());
          call.Write(StartFrame("park", NewUuid()));
          call.Cancel();
          call.Finish();
        }
      });
    }
    for (std::thread& opener : openers) opener.join();
  });
}

TEST_F(ProtocolViolationTest, ActorOutlivesEveryViolationInARow) {
  WithHealthyContext([&] {
    {
      TypedCall call(RawChannel());
      v1::Frame stop;
      stop.mutable_stop();
      call.Write(stop);
      ExpectProtocolError(call.Finish());
    }
    {
      TypedCall call(RawChannel());
      call.Write(StartFrame("park", "row-1"));
      call.Write(StartFrame("park", "row-1-again"));
      ExpectProtocolError(call.Finish());
    }
    {
      TypedCall call(RawChannel());
      call.Write(StartFrame("park", "row-2"));
      call.Write(YieldFrame(kMaxFrameBytes + 1));
      ExpectProtocolError(call.Finish());
    }
    {
      GenericCall call(RawChannel());
      call.Write(Garbage());
      ExpectProtocolError(call.Finish());
    }
    ExpectTaskFailedWithProtocolError("row-1");
    ExpectTaskFailedWithProtocolError("row-2");
  });
}

}  // namespace
}  // namespace tether
