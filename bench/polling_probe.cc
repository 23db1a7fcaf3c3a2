// File: bench/polling_probe.cc
//
// Groundwork for the round-trip target (docs/performance.md, "Round
// trip"), not a Tether figure: raw gRPC ping-pong, 64-byte messages, with
// each end's waiting thread polling its own call's completion queue (the
// async API), so that the kernel wakes the very thread that waits for the
// reply. Nothing of Tether is linked. The variants tell whether that still
// holds in a process that also serves callback-API methods, as every actor
// does:
//
//   BM_PolledPingPong/alone            only the polled call in the process
//   BM_PolledPingPong/idle_server      plus an idle callback-API server
//   BM_PolledPingPong/callback_method  the polled method's server also has
//                                      a callback-API method (idle)
//   BM_PolledPingPong/sync_method      ... a synchronous-API method (idle)
//
// gRPC reads its polling engine from GRPC_POLL_STRATEGY at start-up:
//
//   bazel run -c opt //bench:polling_probe
//   GRPC_POLL_STRATEGY=poll bazel run -c opt //bench:polling_probe

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/baseline.grpc.pb.h"
#include "benchmark/benchmark.h"
#include "grpcpp/grpcpp.h"

namespace tether {
namespace bench {
namespace {

constexpr int kPayloadBytes = 64;
constexpr int kWarmupRoundTrips = 100;

// Completion-queue tags: each queue has one operation outstanding at a
// time, so the tag only names it for the check.
enum Tag : intptr_t { kNewCall = 1, kRead, kWrite, kWritesDone, kFinish };

void* ToTag(Tag tag) { return reinterpret_cast<void*>(tag); }

// Waits for the one outstanding operation on `cq`; true if it is `expected`
// and succeeded.
bool Await(grpc::CompletionQueue& cq, Tag expected) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && tag == ToTag(expected) && ok;
}

void Drain(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

using AllAsync = Echo::AsyncService;
// PingPong on the async API; Sink on the callback API, never called.
using WithCallbackMethod = Echo::WithAsyncMethod_PingPong<
    Echo::WithCallbackMethod_Sink<Echo::Service>>;
// PingPong on the async API; Sink on the synchronous API, never called.
using WithSyncMethod = Echo::WithAsyncMethod_PingPong<Echo::Service>;

enum class Variant { kAlone, kIdleServer, kCallbackMethod, kSyncMethod };

// An echo server whose one PingPong call is served by a thread that polls
// the call's own completion queue, and a client whose calling thread polls
// its own.
template <typename Service>
class PolledEcho {
 public:
  explicit PolledEcho(bool idle_callback_server) : ping_(MakePing()) {
    if (idle_callback_server) {
      grpc::ServerBuilder builder;
      int port = 0;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                               &port);
      builder.RegisterService(&idle_service_);
      idle_server_ = builder.BuildAndStart();
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    new_calls_ = builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) return;
    server_thread_ = std::thread([this] { ServeOneCall(); });

    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub_ = Echo::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                  grpc::InsecureChannelCredentials(), args));
    stream_ =
        stub_->AsyncPingPong(&client_context_, &client_cq_, ToTag(kNewCall));
    started_ = Await(client_cq_, kNewCall);
  }

  ~PolledEcho() {
    if (stream_ != nullptr) {
      if (started_) {
        stream_->WritesDone(ToTag(kWritesDone));
        Await(client_cq_, kWritesDone);
      } else {
        client_context_.TryCancel();
      }
      grpc::Status status;
      stream_->Finish(&status, ToTag(kFinish));
      Await(client_cq_, kFinish);
    }
    if (server_ != nullptr) {
      server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    }
    if (server_thread_.joinable()) server_thread_.join();
    if (new_calls_ != nullptr) Drain(*new_calls_);
    Drain(client_cq_);
    if (idle_server_ != nullptr) idle_server_->Shutdown();
  }

  bool ok() const { return started_; }

  // One message to the server and its echo back; false if the call broke.
  bool RoundTrip() {
    stream_->Write(ping_, ToTag(kWrite));
    if (!Await(client_cq_, kWrite)) return false;
    stream_->Read(&echo_, ToTag(kRead));
    return Await(client_cq_, kRead) && echo_.data().size() == kPayloadBytes;
  }

 private:
  static Blob MakePing() {
    Blob blob;
    blob.set_data(std::string(kPayloadBytes, 'x'));
    return blob;
  }

  // Echoes until the client half-closes or the server shuts down.
  void ServeOneCall() {
    grpc::CompletionQueue call_cq;
    grpc::ServerContext context;
    grpc::ServerAsyncReaderWriter<Blob, Blob> stream(&context);
    service_.RequestPingPong(&context, &stream, &call_cq, new_calls_.get(),
                             ToTag(kNewCall));
    if (!Await(*new_calls_, kNewCall)) return Drain(call_cq);
    Blob blob;
    while (true) {
      stream.Read(&blob, ToTag(kRead));
      if (!Await(call_cq, kRead)) break;
      stream.Write(blob, ToTag(kWrite));
      if (!Await(call_cq, kWrite)) break;
    }
    stream.Finish(grpc::Status::OK, ToTag(kFinish));
    Await(call_cq, kFinish);
    Drain(call_cq);
  }

  Echo::CallbackService idle_service_;
  std::unique_ptr<grpc::Server> idle_server_;
  Service service_;
  int port_ = 0;
  std::unique_ptr<grpc::ServerCompletionQueue> new_calls_;
  std::unique_ptr<grpc::Server> server_;
  std::thread server_thread_;

  const Blob ping_;
  Blob echo_;
  std::unique_ptr<Echo::Stub> stub_;
  grpc::ClientContext client_context_;
  grpc::CompletionQueue client_cq_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<Blob, Blob>> stream_;
  bool started_ = false;
};

template <typename Service>
void Run(benchmark::State& state, bool idle_callback_server) {
  PolledEcho<Service> echo(idle_callback_server);
  if (!echo.ok()) {
    state.SkipWithError("the polled PingPong call could not be started");
    return;
  }
  for (int i = 0; i < kWarmupRoundTrips; ++i) {
    if (!echo.RoundTrip()) {
      state.SkipWithError("the call broke during warm-up");
      return;
    }
  }
  const absl::Time start = absl::Now();
  for (auto _ : state) {
    if (!echo.RoundTrip()) {
      state.SkipWithError("the call broke");
      return;
    }
  }
  state.counters["rtt_us"] =
      benchmark::Counter(absl::ToDoubleMicroseconds(absl::Now() - start),
                         benchmark::Counter::kAvgIterations);
}

void BM_PolledPingPong(benchmark::State& state, Variant variant) {
  switch (variant) {
    case Variant::kAlone:
      return Run<AllAsync>(state, /*idle_callback_server=*/false);
    case Variant::kIdleServer:
      return Run<AllAsync>(state, /*idle_callback_server=*/true);
    case Variant::kCallbackMethod:
      return Run<WithCallbackMethod>(state, /*idle_callback_server=*/false);
    case Variant::kSyncMethod:
      return Run<WithSyncMethod>(state, /*idle_callback_server=*/false);
  }
}
BENCHMARK_CAPTURE(BM_PolledPingPong, alone, Variant::kAlone)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PolledPingPong, idle_server, Variant::kIdleServer)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PolledPingPong, callback_method, Variant::kCallbackMethod)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PolledPingPong, sync_method, Variant::kSyncMethod)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bench
}  // namespace tether

BENCHMARK_MAIN();
