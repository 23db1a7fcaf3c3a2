// Actor nurseries across real processes: a fan-in pipeline (producers
// streaming into an aggregator, the root reading from it) cancelled at
// each point that matters reports no partial result, and every actor ends
// gracefully. The fixture is in tests/trees/nursery_test_fixture.h.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "tests/trees/nursery_test_fixture.h"
#include "tether/address.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/msg_stream.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether::nursery_test {
namespace {

ContextOptions Backpressure() {
  ContextOptions options;
  options.backpressure = true;
  return options;
}

// --- Functions the children of these tests run ---

// Pipeline producer: {"index": I, "count": N} streams {"p": I, "seq": k}
// for k = 0..N-1 (forever when N < 0), returns N.
absl::StatusOr<Value> Produce(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t index, IntArg(args, "index"));
  TETHER_ASSIGN_OR_RETURN(int64_t count, IntArg(args, "count"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t seq = 0;
  for (; count < 0 || seq < count; ++seq) {
    TETHER_RETURN_IF_ERROR(stream.Send(
        Value::Object({{"p", Value::Int(index)}, {"seq", Value::Int(seq)}})));
  }
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(seq);
}
TETHER_REGISTER_CONTEXT(produce, Produce);

// Pipeline aggregator: {"producers": [addresses], "count": N} opens a
// produce context on every producer and forwards everything they stream
// into its own stream. Returns how many values it forwarded, and only
// when every producer has finished: a cancelled pipeline has no result.
absl::StatusOr<Value> Aggregate(Context& ctx, const Value& args) {
  ActorCore* self = ActorCore::Current();
  if (self == nullptr) return absl::FailedPreconditionError("not an actor");
  TETHER_ASSIGN_OR_RETURN(Value producers_field, args.Field("producers"));
  TETHER_ASSIGN_OR_RETURN(std::vector<Value> producers,
                          producers_field.Elements());
  TETHER_ASSIGN_OR_RETURN(int64_t count, IntArg(args, "count"));
  std::vector<std::unique_ptr<Portal>> portals;
  for (const Value& producer : producers) {
    TETHER_ASSIGN_OR_RETURN(std::string text, producer.AsString());
    TETHER_ASSIGN_OR_RETURN(Address address, Address::Parse(text));
    portals.push_back(std::make_unique<Portal>(self, address));
  }
  TETHER_RETURN_IF_ERROR(
      ctx.Started(Value::Int(static_cast<int64_t>(portals.size()))));
  TETHER_ASSIGN_OR_RETURN(MsgStream out, ctx.OpenStream());
  std::atomic<int64_t> forwarded{0};
  {
    TaskGroup feeds(/*cancel_on_error=*/true);
    for (size_t i = 0; i < portals.size(); ++i) {
      feeds.Spawn(absl::StrCat("feed-", i), [&, i]() -> absl::Status {
        return portals[i]->OpenContext(
            "produce",
            Value::Object({{"index", Value::Int(static_cast<int64_t>(i))},
                           {"count", Value::Int(count)}}),
            [&](Context& feed, const Value&) -> absl::Status {
              TETHER_ASSIGN_OR_RETURN(MsgStream in, feed.OpenStream());
              for (const Value& value : in) {
                TETHER_RETURN_IF_ERROR(out.Send(value));
                ++forwarded;
              }
              return in.status();
            },
            Backpressure());
      });
    }
    TETHER_RETURN_IF_ERROR(feeds.Wait());
  }
  TETHER_RETURN_IF_ERROR(out.Close());
  return Value::Int(forwarded.load());
}
TETHER_REGISTER_CONTEXT(aggregate, Aggregate);

// --- 10. Cancelling a fan-in pipeline ---

enum class CancelPoint {
  kNone,               // runs to completion: the baseline
  kAfterStarted,       // the root cancels its context before any data
  kMidStream,          // the root cancels its context mid-stream
  kProducerCancelled,  // the root cancels one producer actor mid-stream
  kNurseryCancelAll,   // the root cancels the whole nursery mid-stream
};

std::string CancelPointName(CancelPoint point) {
  switch (point) {
    case CancelPoint::kNone:
      return "Complete";
    case CancelPoint::kAfterStarted:
      return "ContextCancelAfterStarted";
    case CancelPoint::kMidStream:
      return "ContextCancelMidStream";
    case CancelPoint::kProducerCancelled:
      return "ProducerActorCancelled";
    case CancelPoint::kNurseryCancelAll:
      return "NurseryCancelAll";
  }
  return "Unknown";
}

class PipelineTest : public NurseryTest,
                     public testing::WithParamInterface<CancelPoint> {};

TEST_P(PipelineTest, CancelReportsNoPartialResultAndEndsGracefully) {
  constexpr int kProducers = 3;
  constexpr int64_t kCount = 200;  // per producer, in the complete run
  constexpr int64_t kBeforeCancel = 30;
  constexpr absl::Duration kReceiveTimeout = absl::Seconds(30);
  const CancelPoint point = GetParam();
  const int64_t count = point == CancelPoint::kNone ? kCount : -1;

  // Per producer, the next sequence number expected.
  std::map<int64_t, int64_t> next_seq;
  int64_t received = 0;
  std::vector<std::string> disorder;
  std::optional<absl::StatusOr<Value>> outcome;
  absl::Status end_of_stream;
  absl::Status context_status = absl::UnknownError("never opened");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        std::vector<Portal*> producers;
        std::vector<Value> addresses;
        for (int i = 0; i < kProducers; ++i) {
          TETHER_ASSIGN_OR_RETURN(
              Portal * producer,
              nursery.StartActor(absl::StrCat("producer-", i), Patient()));
          producers.push_back(producer);
          addresses.push_back(Value::String(producer->address().ToString()));
        }
        TETHER_ASSIGN_OR_RETURN(Portal * aggregator,
                                nursery.StartActor("aggregator", Patient()));
        context_status = aggregator->OpenContext(
            "aggregate",
            Value::Object({{"producers", Value::List(addresses)},
                           {"count", Value::Int(count)}}),
            [&](Context& ctx, const Value&) -> absl::Status {
              if (point == CancelPoint::kAfterStarted) {
                ctx.Cancel();
                outcome = ctx.Result(absl::Now() + kReceiveTimeout);
                return absl::OkStatus();
              }
              TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
              const int64_t wanted = point == CancelPoint::kNone
                                         ? kProducers * kCount
                                         : kBeforeCancel;
              // Cancelling producer-1 must hit its context: wait until it
              // is streaming.
              const auto waiting_for_producer_1 = [&] {
                return point == CancelPoint::kProducerCancelled &&
                       next_seq[1] == 0;
              };
              while (received < wanted || waiting_for_producer_1()) {
                TETHER_ASSIGN_OR_RETURN(
                    Value value, stream.Receive(absl::Now() + kReceiveTimeout));
                TETHER_ASSIGN_OR_RETURN(int64_t p, IntArg(value, "p"));
                TETHER_ASSIGN_OR_RETURN(int64_t seq, IntArg(value, "seq"));
                if (seq != next_seq[p]) disorder.push_back(value.ToJson());
                next_seq[p] = seq + 1;
                ++received;
              }
              switch (point) {
                case CancelPoint::kNone:
                  end_of_stream =
                      stream.Receive(absl::Now() + kReceiveTimeout).status();
                  break;
                case CancelPoint::kMidStream:
                  ctx.Cancel();
                  break;
                case CancelPoint::kProducerCancelled:
                  TETHER_RETURN_IF_ERROR(producers[1]->CancelActor().status());
                  break;
                case CancelPoint::kNurseryCancelAll:
                  nursery.CancelAll();
                  break;
                case CancelPoint::kAfterStarted:
                  break;
              }
              outcome = ctx.Result(absl::Now() + kReceiveTimeout);
              return absl::OkStatus();
            },
            Backpressure());
        nursery.CancelAll();
        return absl::OkStatus();
      });

  EXPECT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_TRUE(disorder.empty()) << absl::StrJoin(disorder, " ");
  ASSERT_TRUE(outcome.has_value()) << DescribeError(context_status);
  const v1::ErrorInfo info = InfoOf(outcome->status());
  switch (point) {
    case CancelPoint::kNone:
      ASSERT_TRUE(outcome->ok()) << DescribeError(outcome->status());
      EXPECT_EQ(**outcome, Value::Int(kProducers * kCount));
      EXPECT_EQ(end_of_stream.code(), absl::StatusCode::kOutOfRange)
          << end_of_stream;
      for (int64_t p = 0; p < kProducers; ++p) EXPECT_EQ(next_seq[p], kCount);
      EXPECT_TRUE(context_status.ok()) << DescribeError(context_status);
      break;
    case CancelPoint::kAfterStarted:
    case CancelPoint::kMidStream:
      // Our own cancel: the outcome is the ContextCancelled it brought,
      // never a partial count, and the context block absorbs it.
      EXPECT_FALSE(outcome->ok())
          << "partial result " << outcome->value().ToJson();
      EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
          << DescribeError(outcome->status());
      EXPECT_EQ(info.canceller().uuid(), root().id().uuid());
      EXPECT_TRUE(context_status.ok()) << DescribeError(context_status);
      break;
    case CancelPoint::kProducerCancelled:
      // The producer's ContextCancelled, relayed by the aggregator.
      EXPECT_FALSE(outcome->ok())
          << "partial result " << outcome->value().ToJson();
      EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
          << DescribeError(outcome->status());
      EXPECT_EQ(info.source().name(), "producer-1");
      EXPECT_EQ(info.canceller().uuid(), root().id().uuid());
      EXPECT_TRUE(std::any_of(
          info.relay_path().begin(), info.relay_path().end(),
          [](const v1::ActorId& hop) { return hop.name() == "aggregator"; }))
          << DescribeError(outcome->status());
      EXPECT_FALSE(context_status.ok());
      break;
    case CancelPoint::kNurseryCancelAll:
      // Cancelled by this actor, which did not cancel the context itself:
      // not absorbed.
      EXPECT_FALSE(outcome->ok())
          << "partial result " << outcome->value().ToJson();
      EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
          << DescribeError(outcome->status());
      EXPECT_EQ(info.canceller().uuid(), root().id().uuid());
      EXPECT_FALSE(context_status.ok());
      break;
  }
  if (point != CancelPoint::kAfterStarted) {
    EXPECT_GE(received, kBeforeCancel);
  }
  EXPECT_EQ(Children().size(), static_cast<size_t>(kProducers + 1));
  ExpectEveryChildExitedCleanly();
}

INSTANTIATE_TEST_SUITE_P(CancelPoints, PipelineTest,
                         testing::Values(CancelPoint::kNone,
                                         CancelPoint::kAfterStarted,
                                         CancelPoint::kMidStream,
                                         CancelPoint::kProducerCancelled,
                                         CancelPoint::kNurseryCancelAll),
                         [](const testing::TestParamInfo<CancelPoint>& info) {
                           return CancelPointName(info.param);
                         });
}  // namespace
}  // namespace tether::nursery_test
