// File: bench/raw_grpc_baseline.h
//
// The raw gRPC side of the benchmarks: an Echo server in this process on a
// real TCP loopback port (127.0.0.1, ephemeral), a channel to it, and the two
// client loops Tether's figures are compared against in the same run.
//
//   absl::StatusOr<std::unique_ptr<RawGrpcBaseline>> baseline =
//       RawGrpcBaseline::Start();
//   std::unique_ptr<PingPongStream> stream =
//       (*baseline)->OpenPingPong(kBaselinePayloadBytes);
//   for (int i = 0; i < 1000; ++i) status = stream->RoundTrip();
//   status = stream->Close();
//   absl::StatusOr<SinkSummary> summary =
//       (*baseline)->StreamBlobs(1000, kBaselinePayloadBytes);
//
// Both ends use gRPC's synchronous API (blocking Read/Write, one thread per
// stream end) on purpose. A Tether context is a blocking user task at each
// end: ctx.Send() and ctx.Receive() park the calling thread until the runtime
// has done the I/O. The fair baseline for "what does the runtime add?" is
// therefore a blocking thread on each side of a plain gRPC stream, not a
// hand-tuned callback reactor that no user task looks like. The cost of the
// runtime's own reactors, queues and wake-ups is exactly what the ratio
// against this baseline exposes.

#ifndef TETHER_BENCH_RAW_GRPC_BASELINE_H_
#define TETHER_BENCH_RAW_GRPC_BASELINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/baseline.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server.h"
#include "grpcpp/support/sync_stream.h"

namespace tether {
namespace bench {

// The payload size of every baseline figure: small enough that the figures
// measure per-message overhead, not bandwidth.
inline constexpr size_t kBaselinePayloadBytes = 64;

// One open PingPong stream: the client writes one Blob and blocks until the
// server's echo is read, once per RoundTrip().
//
// External synchronization required: one thread at a time. Close it before
// the RawGrpcBaseline that opened it is destroyed; a stream still open then
// is cancelled by the server's shutdown and its next call fails.
class PingPongStream {
 public:
  PingPongStream(const PingPongStream&) = delete;
  PingPongStream& operator=(const PingPongStream&) = delete;
  // Cancels the stream if Close() was not called.
  ~PingPongStream();

  // Writes one Blob and reads its echo. Fails (the stream's status) if the
  // stream broke, or with INTERNAL if the echo differs from what was sent.
  [[nodiscard]] absl::Status RoundTrip();

  // Half-closes, drains and returns the stream's final status. Call once.
  [[nodiscard]] absl::Status Close();

 private:
  friend class RawGrpcBaseline;
  PingPongStream(Echo::Stub& stub, size_t payload_bytes);

  // The gRPC status of a broken stream. REQUIRES: the stream is not closed.
  absl::Status FinishBroken();

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Blob, Blob>> stream_;
  const Blob ping_;
  Blob echo_;
  bool closed_ = false;
};

// The Echo server, a channel to it and the client loops.
//
// Thread-safe: OpenPingPong() and StreamBlobs() may run concurrently. The
// destructor shuts the server down within a bounded grace period and joins
// every server thread.
class RawGrpcBaseline {
 public:
  // Binds 127.0.0.1:0, starts serving and connects a channel to it. Fails if
  // the server cannot bind or the channel does not connect within seconds.
  static absl::StatusOr<std::unique_ptr<RawGrpcBaseline>> Start();

  RawGrpcBaseline(const RawGrpcBaseline&) = delete;
  RawGrpcBaseline& operator=(const RawGrpcBaseline&) = delete;
  ~RawGrpcBaseline();

  // "127.0.0.1:<bound port>".
  const std::string& address() const { return address_; }

  // Opens a PingPong stream whose Blobs carry `payload_bytes` bytes. gRPC
  // starts the call lazily: a failure to open shows as the first
  // RoundTrip()'s error.
  std::unique_ptr<PingPongStream> OpenPingPong(size_t payload_bytes);

  // One Sink call: writes `count` Blobs of `payload_bytes` bytes, one per
  // Write, half-closes and returns the server's summary once it has read
  // them all. Fails if the call fails or the summary disagrees with what was
  // sent.
  absl::StatusOr<SinkSummary> StreamBlobs(int64_t count, size_t payload_bytes);

 private:
  class EchoService;

  RawGrpcBaseline(std::string address, std::unique_ptr<EchoService> service,
                  std::unique_ptr<grpc::Server> server,
                  std::shared_ptr<grpc::Channel> channel);

  const std::string address_;
  // Outlives server_: gRPC calls into it until server_->Wait() returns.
  const std::unique_ptr<EchoService> service_;
  const std::unique_ptr<grpc::Server> server_;
  const std::shared_ptr<grpc::Channel> channel_;
  // Echo::Stub is safe for concurrent calls.
  const std::unique_ptr<Echo::Stub> stub_;
};

}  // namespace bench
}  // namespace tether

#endif  // TETHER_BENCH_RAW_GRPC_BASELINE_H_
