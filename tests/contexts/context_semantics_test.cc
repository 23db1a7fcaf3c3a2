// Multi-process context semantics (tests/contexts/context_semantics_fixture.h):
// misuse of Started, the Started value and the result, a callee that closes
// its stream at once, exact ends of stream and no value lost to a
// restarted consumer, unknown functions and arguments of the wrong type,
// and an error relayed through a second actor.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/task/wait.h"
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
}  // namespace tether::context_semantics
