#include "bench/raw_grpc_baseline.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tether {
namespace bench {
namespace {

std::unique_ptr<RawGrpcBaseline> StartBaseline() {
  absl::StatusOr<std::unique_ptr<RawGrpcBaseline>> baseline =
      RawGrpcBaseline::Start();
  EXPECT_TRUE(baseline.ok()) << baseline.status();
  return baseline.ok() ? *std::move(baseline) : nullptr;
}

TEST(RawGrpcBaselineTest, ListensOnLoopbackWithARealPort) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartBaseline();
  ASSERT_NE(baseline, nullptr);
  EXPECT_TRUE(absl::StartsWith(baseline->address(), "127.0.0.1:"));
  EXPECT_NE(baseline->address(), "127.0.0.1:0");
}

TEST(RawGrpcBaselineTest, PingPongEchoesEveryMessageThenClosesOk) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartBaseline();
  ASSERT_NE(baseline, nullptr);
  std::unique_ptr<PingPongStream> stream =
      baseline->OpenPingPong(kBaselinePayloadBytes);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(stream->RoundTrip().ok()) << "round trip " << i;
  }
  EXPECT_TRUE(stream->Close().ok());
  EXPECT_EQ(stream->RoundTrip().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stream->Close().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RawGrpcBaselineTest, SinkCountsEveryMessageAndByte) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartBaseline();
  ASSERT_NE(baseline, nullptr);
  absl::StatusOr<SinkSummary> summary =
      baseline->StreamBlobs(1000, kBaselinePayloadBytes);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->messages(), 1000);
  EXPECT_EQ(summary->bytes(),
            1000 * static_cast<int64_t>(kBaselinePayloadBytes));

  absl::StatusOr<SinkSummary> empty =
      baseline->StreamBlobs(0, kBaselinePayloadBytes);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->messages(), 0);
}

TEST(RawGrpcBaselineTest, ConcurrentStreamsShareOneBaseline) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartBaseline();
  ASSERT_NE(baseline, nullptr);
  std::unique_ptr<PingPongStream> first =
      baseline->OpenPingPong(kBaselinePayloadBytes);
  std::unique_ptr<PingPongStream> second = baseline->OpenPingPong(1);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(first->RoundTrip().ok());
    ASSERT_TRUE(second->RoundTrip().ok());
  }
  EXPECT_TRUE(first->Close().ok());
  EXPECT_TRUE(second->Close().ok());
}

// A stream left open must not keep the server (and the process) alive: the
// baseline's destructor cancels it after the grace period and joins the
// server threads; the stream then fails and can still be destroyed.
TEST(RawGrpcBaselineTest, ShutdownCancelsAStreamLeftOpen) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartBaseline();
  ASSERT_NE(baseline, nullptr);
  std::unique_ptr<PingPongStream> stream =
      baseline->OpenPingPong(kBaselinePayloadBytes);
  ASSERT_TRUE(stream->RoundTrip().ok());
  baseline.reset();
  EXPECT_FALSE(stream->RoundTrip().ok());
}

TEST(RawGrpcBaselineTest, DestroyingAnOpenStreamLeavesTheServerUsable) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartBaseline();
  ASSERT_NE(baseline, nullptr);
  std::unique_ptr<PingPongStream> stream =
      baseline->OpenPingPong(kBaselinePayloadBytes);
  ASSERT_TRUE(stream->RoundTrip().ok());
  stream.reset();
  // The destructor cancelled the call instead of hanging; the server serves on.
  std::unique_ptr<PingPongStream> next =
      baseline->OpenPingPong(kBaselinePayloadBytes);
  EXPECT_TRUE(next->RoundTrip().ok());
  EXPECT_TRUE(next->Close().ok());
}

}  // namespace
}  // namespace bench
}  // namespace tether
