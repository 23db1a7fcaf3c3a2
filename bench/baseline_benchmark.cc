// File: bench/baseline_benchmark.cc
//
// The raw gRPC figures every Tether figure is divided by (see
// bench/summary.py). Each benchmark starts its own in-process Echo server on
// TCP loopback (bench/raw_grpc_baseline.h) and times only the loop; server
// start, connection set-up and warm-up happen before the timer runs.
//
//   BM_RawGrpcPingPong  counter rtt_us: one 64-byte message to the server and
//                       its echo back on one bidi stream, in microseconds.
//   BM_RawGrpcStream    counter msgs_per_s: 64-byte messages written one per
//                       Write on a client stream, per second, counted when
//                       the server has read them all and answered.
//
//   bazel run -c opt //bench:baseline_benchmark

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/raw_grpc_baseline.h"
#include "benchmark/benchmark.h"

namespace tether {
namespace bench {
namespace {

// Round trips before the timer starts: the first ones open the call and wake
// the server's handler thread.
constexpr int kWarmupRoundTrips = 100;
// Messages per Sink call. Every iteration is one whole call, so the figure
// includes opening the call and waiting for the summary; at this length that
// overhead is about one percent.
constexpr int64_t kMessagesPerCall = 1000;

// Starts a baseline, or marks the benchmark failed and returns null.
std::unique_ptr<RawGrpcBaseline> StartOrSkip(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<RawGrpcBaseline>> baseline =
      RawGrpcBaseline::Start();
  if (!baseline.ok()) {
    state.SkipWithError(baseline.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(baseline);
}

void BM_RawGrpcPingPong(benchmark::State& state) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartOrSkip(state);
  if (baseline == nullptr) return;
  std::unique_ptr<PingPongStream> stream =
      baseline->OpenPingPong(kBaselinePayloadBytes);
  for (int i = 0; i < kWarmupRoundTrips; ++i) {
    if (absl::Status status = stream->RoundTrip(); !status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  const absl::Time start = absl::Now();
  for (auto _ : state) {
    if (absl::Status status = stream->RoundTrip(); !status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  const absl::Duration elapsed = absl::Now() - start;
  if (absl::Status status = stream->Close(); !status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  // The loop's wall time per iteration. (An inverted rate counter would give
  // the same number but print it with an "s" unit.)
  state.counters["rtt_us"] = benchmark::Counter(
      absl::ToDoubleMicroseconds(elapsed), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_RawGrpcPingPong)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_RawGrpcStream(benchmark::State& state) {
  std::unique_ptr<RawGrpcBaseline> baseline = StartOrSkip(state);
  if (baseline == nullptr) return;
  if (absl::StatusOr<SinkSummary> warmup =
          baseline->StreamBlobs(kMessagesPerCall, kBaselinePayloadBytes);
      !warmup.ok()) {
    state.SkipWithError(warmup.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<SinkSummary> summary =
        baseline->StreamBlobs(kMessagesPerCall, kBaselinePayloadBytes);
    if (!summary.ok()) {
      state.SkipWithError(summary.status().ToString().c_str());
      return;
    }
  }
  state.counters["msgs_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kMessagesPerCall),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawGrpcStream)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace tether

BENCHMARK_MAIN();
