// File: bench/context_benchmark.cc
//
// Tether's context figures (bench/summary.py divides the first two by the
// raw gRPC baselines of bench/baseline_benchmark.cc, measured in the same
// run). Two actors live in this process and talk over TCP loopback, like
// the baseline's client and server.
//
//   BM_ContextPingPong       rtt_us: one 64-byte payload to an echoing
//                            callee and back, on one context.
//   BM_ContextStream         msgs_per_s: 64-byte payloads sent one Send each
//                            to a counting callee; one context per 1000,
//                            the callee allowing overruns (a one-way
//                            stream to a slower reader overruns a
//                            64-payload buffer otherwise, by design).
//   BM_ContextLifecycle      context_us: a context with no payloads (open,
//                            Started, Stop, Return, block exit), the cost
//                            BM_ContextStream pays once per 1000; not in
//                            the summary.
//   BM_CancelIdle            cancel_idle_ms: ctx.Cancel() until OpenContext
//                            returns, callee idle; median.
//   BM_CancelUnderBacklog    cancel_backlog_median_ms / _p99_ms: the same
//                            while the callee floods an opener that is not
//                            reading (allow_overruns).
//   BM_IdleContextBytes      idle_context_bytes: RSS growth per open idle
//                            context, 1000 contexts, both ends counted.
//
//   bazel run -c opt //bench:context_benchmark

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/baseline.pb.h"
#include "benchmark/benchmark.h"
#include "server/actor_server.h"
#include "tether/portal.h"
#include "tether/status_macros.h"

namespace tether {
namespace bench {
namespace {

constexpr int kPayloadBytes = 64;
constexpr int64_t kMessagesPerContext = 1000;
constexpr int kIdleContexts = 1000;
constexpr int kFloodFrames = 100000;

Value Payload() {
  Blob blob;
  blob.set_data(std::string(kPayloadBytes, 'x'));
  return Value::Message(blob);
}

absl::StatusOr<Value> EchoStream(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (const Value& value : stream) TETHER_RETURN_IF_ERROR(stream.Send(value));
  TETHER_RETURN_IF_ERROR(stream.status());
  return Value();
}

absl::StatusOr<Value> Sink(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t count = 0;
  for (const Value& value : stream) {
    benchmark::DoNotOptimize(value);
    ++count;
  }
  TETHER_RETURN_IF_ERROR(stream.status());
  return Value::Int(count);
}

absl::StatusOr<Value> SleepForever(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
}

absl::StatusOr<Value> Flood(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  const Value payload = Payload();
  for (int i = 0; i < kFloodFrames; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(payload));
  }
  return Value::Int(kFloodFrames);
}

// A callee actor and an opener actor in this process, both serving on
// loopback, and a portal from the opener to the callee.
class TwoActors {
 public:
  static absl::StatusOr<std::unique_ptr<TwoActors>> Start() {
    auto actors = std::unique_ptr<TwoActors>(new TwoActors());
    TETHER_RETURN_IF_ERROR(
        actors->functions_.RegisterContext("echo_stream", EchoStream));
    TETHER_RETURN_IF_ERROR(actors->functions_.RegisterContext("sink", Sink));
    TETHER_RETURN_IF_ERROR(
        actors->functions_.RegisterContext("sleep_forever", SleepForever));
    TETHER_RETURN_IF_ERROR(actors->functions_.RegisterContext("flood", Flood));
    TETHER_ASSIGN_OR_RETURN(ActorIdentity callee,
                            ActorIdentity::Create("callee"));
    TETHER_ASSIGN_OR_RETURN(ActorIdentity opener,
                            ActorIdentity::Create("opener"));
    TETHER_ASSIGN_OR_RETURN(Address loopback, Address::Parse("127.0.0.1:0"));
    actors->callee_ = std::make_unique<ActorCore>(callee, &actors->functions_);
    actors->opener_ = std::make_unique<ActorCore>(opener, &actors->functions_);
    // One tree: the opener's calls carry the callee's token.
    actors->opener_->SetToken(actors->callee_->token());
    TETHER_ASSIGN_OR_RETURN(
        actors->callee_server_,
        ActorServer::Start(
            actors->callee_.get(), loopback, [](const auto&) {}, nullptr));
    TETHER_ASSIGN_OR_RETURN(
        actors->opener_server_,
        ActorServer::Start(
            actors->opener_.get(), loopback, [](const auto&) {}, nullptr));
    actors->portal_ = std::make_unique<Portal>(
        actors->opener_.get(), actors->callee_server_->address());
    return actors;
  }

  ~TwoActors() {
    portal_.reset();
    // A server is null when Start() failed before starting it.
    if (callee_server_ != nullptr) {
      callee_server_->Shutdown(absl::Milliseconds(100));
    }
    if (opener_server_ != nullptr) {
      opener_server_->Shutdown(absl::Milliseconds(100));
    }
  }

  Portal& portal() { return *portal_; }

 private:
  TwoActors() = default;

  FunctionRegistry functions_;
  std::unique_ptr<ActorCore> callee_;
  std::unique_ptr<ActorCore> opener_;
  std::unique_ptr<ActorServer> callee_server_;
  std::unique_ptr<ActorServer> opener_server_;
  std::unique_ptr<Portal> portal_;
};

std::unique_ptr<TwoActors> StartOrSkip(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<TwoActors>> actors = TwoActors::Start();
  if (!actors.ok()) {
    state.SkipWithError(actors.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(actors);
}

double Percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t index = std::min(samples.size() - 1,
                                static_cast<size_t>(fraction * samples.size()));
  return samples[index];
}

void BM_ContextPingPong(benchmark::State& state) {
  std::unique_ptr<TwoActors> actors = StartOrSkip(state);
  if (actors == nullptr) return;
  const Value payload = Payload();
  absl::Duration elapsed;
  const absl::Status status = actors->portal().OpenContext(
      "echo_stream", Value(), [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (int i = 0; i < 100; ++i) {  // Warm-up.
          TETHER_RETURN_IF_ERROR(stream.Send(payload));
          TETHER_RETURN_IF_ERROR(stream.Receive().status());
        }
        const absl::Time start = absl::Now();
        for (auto _ : state) {
          TETHER_RETURN_IF_ERROR(stream.Send(payload));
          TETHER_RETURN_IF_ERROR(stream.Receive().status());
        }
        elapsed = absl::Now() - start;
        return stream.Close();
      });
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  state.counters["rtt_us"] = benchmark::Counter(
      absl::ToDoubleMicroseconds(elapsed), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ContextPingPong)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Opens one context per iteration to the counting sink (which allows
// overruns) and sends it `payloads` payloads; the time all took, or
// nullopt once the benchmark was skipped with an error.
std::optional<absl::Duration> SinkContexts(benchmark::State& state,
                                           int64_t payloads) {
  std::unique_ptr<TwoActors> actors = StartOrSkip(state);
  if (actors == nullptr) return std::nullopt;
  const Value payload = Payload();
  ContextOptions options;
  options.callee_allow_overruns = true;
  const absl::Time start = absl::Now();
  for (auto _ : state) {
    const absl::Status status = actors->portal().OpenContext(
        "sink", Value(),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          for (int64_t i = 0; i < payloads; ++i) {
            TETHER_RETURN_IF_ERROR(stream.Send(payload));
          }
          TETHER_RETURN_IF_ERROR(stream.Close());
          TETHER_ASSIGN_OR_RETURN(Value count, ctx.Result());
          return count == Value::Int(payloads)
                     ? absl::OkStatus()
                     : absl::DataLossError("the sink miscounted payloads");
        },
        options);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return std::nullopt;
    }
  }
  return absl::Now() - start;
}

void BM_ContextStream(benchmark::State& state) {
  const std::optional<absl::Duration> elapsed =
      SinkContexts(state, kMessagesPerContext);
  if (!elapsed.has_value()) return;
  state.counters["msgs_per_s"] =
      static_cast<double>(state.iterations() * kMessagesPerContext) /
      absl::ToDoubleSeconds(*elapsed);
}
BENCHMARK(BM_ContextStream)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ContextLifecycle(benchmark::State& state) {
  const std::optional<absl::Duration> elapsed = SinkContexts(state, 0);
  if (!elapsed.has_value()) return;
  state.counters["context_us"] = benchmark::Counter(
      absl::ToDoubleMicroseconds(*elapsed), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ContextLifecycle)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Times ctx.Cancel() until OpenContext returns, once per iteration.
void CancelBenchmark(benchmark::State& state, absl::string_view function,
                     const ContextOptions& options, bool wait_for_flow,
                     const char* median_key, const char* p99_key) {
  std::unique_ptr<TwoActors> actors = StartOrSkip(state);
  if (actors == nullptr) return;
  std::vector<double> samples_ms;
  for (auto _ : state) {
    absl::Time cancelled;
    const absl::Status status = actors->portal().OpenContext(
        function, Value(),
        [&](Context& ctx, const Value&) -> absl::Status {
          if (wait_for_flow) {
            // Let a backlog build: the flood is flowing once one payload
            // arrived; then the opener stops reading for a while.
            TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
            TETHER_RETURN_IF_ERROR(stream.Receive().status());
            absl::SleepFor(absl::Milliseconds(20));
          }
          cancelled = absl::Now();
          ctx.Cancel();
          return absl::OkStatus();
        },
        options);
    samples_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - cancelled));
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.counters[median_key] = Percentile(samples_ms, 0.5);
  if (p99_key != nullptr)
    state.counters[p99_key] = Percentile(samples_ms, 0.99);
}

void BM_CancelIdle(benchmark::State& state) {
  CancelBenchmark(state, "sleep_forever", ContextOptions(),
                  /*wait_for_flow=*/false, "cancel_idle_ms", nullptr);
}
BENCHMARK(BM_CancelIdle)
    ->Iterations(50)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_CancelUnderBacklog(benchmark::State& state) {
  ContextOptions options;
  options.allow_overruns = true;
  CancelBenchmark(state, "flood", options, /*wait_for_flow=*/true,
                  "cancel_backlog_median_ms", "cancel_backlog_p99_ms");
}
BENCHMARK(BM_CancelUnderBacklog)
    ->Iterations(30)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Resident set size of this process, in bytes.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0;
  int64_t resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Opens `depth` nested idle contexts, calls `at_bottom` inside the
// innermost, then cancels each on the way out.
absl::Status NestContexts(Portal& portal, int depth,
                          const std::function<void()>& at_bottom) {
  if (depth == 0) {
    at_bottom();
    return absl::OkStatus();
  }
  return portal.OpenContext(
      "sleep_forever", Value(), [&](Context& ctx, const Value&) {
        absl::Status inner = NestContexts(portal, depth - 1, at_bottom);
        ctx.Cancel();
        return inner;
      });
}

void BM_IdleContextBytes(benchmark::State& state) {
  std::unique_ptr<TwoActors> actors = StartOrSkip(state);
  if (actors == nullptr) return;
  // Warm-up: the first contexts allocate gRPC's per-connection state.
  const absl::Status warmup = NestContexts(actors->portal(), 10, [] {});
  if (!warmup.ok()) {
    state.SkipWithError(warmup.ToString().c_str());
    return;
  }
  int64_t growth = 0;
  for (auto _ : state) {
    const int64_t before = ResidentBytes();
    const absl::Status status =
        NestContexts(actors->portal(), kIdleContexts,
                     [&] { growth = ResidentBytes() - before; });
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.counters["idle_context_bytes"] =
      static_cast<double>(growth) / kIdleContexts;
}
BENCHMARK(BM_IdleContextBytes)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace tether

BENCHMARK_MAIN();
