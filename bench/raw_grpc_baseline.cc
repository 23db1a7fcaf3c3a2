#include "bench/raw_grpc_baseline.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/status.h"

namespace tether {
namespace bench {
namespace {

// How long the first connection may take before Start() gives up.
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
// How long the destructor lets in-flight calls finish before cancelling them.
constexpr absl::Duration kShutdownGrace = absl::Seconds(1);

// The baseline links nothing of Tether, so that its figures cannot move
// when the runtime changes; hence its own one-line conversion instead of
// rpc/status_conversion.h (the codes share numeric values).
absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

Blob MakeBlob(size_t payload_bytes) {
  Blob blob;
  blob.set_data(std::string(payload_bytes, 'x'));
  return blob;
}

}  // namespace

// Plain synchronous handlers: one server thread blocks in Read/Write per
// call. Both loops end when the client half-closes or the call is cancelled
// (which server shutdown does to every call still open after the grace).
class RawGrpcBaseline::EchoService final : public Echo::Service {
 public:
  grpc::Status PingPong(grpc::ServerContext* context,
                        grpc::ServerReaderWriter<Blob, Blob>* stream) override {
    Blob blob;
    while (stream->Read(&blob)) {
      if (!stream->Write(blob)) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "PingPong: the echo could not be written");
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Sink(grpc::ServerContext* context,
                    grpc::ServerReader<Blob>* reader,
                    SinkSummary* summary) override {
    Blob blob;
    int64_t messages = 0;
    int64_t bytes = 0;
    while (reader->Read(&blob)) {
      ++messages;
      bytes += static_cast<int64_t>(blob.data().size());
    }
    summary->set_messages(messages);
    summary->set_bytes(bytes);
    return grpc::Status::OK;
  }
};

PingPongStream::PingPongStream(Echo::Stub& stub, size_t payload_bytes)
    : stream_(stub.PingPong(&context_)), ping_(MakeBlob(payload_bytes)) {}

PingPongStream::~PingPongStream() {
  if (closed_) return;
  context_.TryCancel();
  // Once cancelled, Read returns false as soon as the at most one echo in
  // flight is consumed, and Finish returns promptly.
  while (stream_->Read(&echo_)) {
  }
  stream_->Finish();  // CANCELLED, which nobody is left to hear.
}

absl::Status PingPongStream::RoundTrip() {
  if (closed_) {
    return absl::FailedPreconditionError("PingPong: the stream is closed");
  }
  if (!stream_->Write(ping_) || !stream_->Read(&echo_)) return FinishBroken();
  if (echo_.data() != ping_.data()) {
    return absl::InternalError(
        absl::StrCat("PingPong: sent ", ping_.data().size(),
                     " bytes, the echo has ", echo_.data().size()));
  }
  return absl::OkStatus();
}

absl::Status PingPongStream::Close() {
  if (closed_) {
    return absl::FailedPreconditionError("PingPong: already closed");
  }
  stream_->WritesDone();
  if (stream_->Read(&echo_)) {
    // Every ping's echo was read by RoundTrip(), so the server owes nothing.
    context_.TryCancel();
    while (stream_->Read(&echo_)) {
    }
    closed_ = true;
    stream_->Finish();  // CANCELLED by us; the error below says why.
    return absl::InternalError("PingPong: an echo nobody asked for");
  }
  closed_ = true;
  return ToAbslStatus(stream_->Finish());
}

absl::Status PingPongStream::FinishBroken() {
  // A failed Write or Read means the call is over; the server echoes only
  // what was written and each echo is read before the next write, so at most
  // one echo is left to drain.
  while (stream_->Read(&echo_)) {
  }
  closed_ = true;
  absl::Status status = ToAbslStatus(stream_->Finish());
  if (status.ok()) {
    return absl::UnavailableError("PingPong: the server ended the stream");
  }
  return status;
}

absl::StatusOr<std::unique_ptr<RawGrpcBaseline>> RawGrpcBaseline::Start() {
  auto service = std::make_unique<EchoService>();
  grpc::ServerBuilder builder;
  // Port 0 with SO_REUSEPORT could still share a port with another server in
  // this process; each baseline gets a port of its own.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        "raw gRPC baseline: the server could not bind 127.0.0.1:0");
  }
  std::string address = absl::StrCat("127.0.0.1:", port);

  grpc::ChannelArguments args;
  // Loopback only: never send the benchmark traffic through an http_proxy
  // from the environment.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // A connection of its own, not one shared with another channel to the
  // same address in this process.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args);

  // From here on the destructor shuts the server down on any early return.
  std::unique_ptr<RawGrpcBaseline> baseline(
      new RawGrpcBaseline(std::move(address), std::move(service),
                          std::move(server), std::move(channel)));
  if (!baseline->channel_->WaitForConnected(
          absl::ToChronoTime(absl::Now() + kConnectTimeout))) {
    return absl::UnavailableError(absl::StrCat(
        "raw gRPC baseline: no connection to ", baseline->address(), " within ",
        absl::FormatDuration(kConnectTimeout)));
  }
  return baseline;
}

RawGrpcBaseline::RawGrpcBaseline(std::string address,
                                 std::unique_ptr<EchoService> service,
                                 std::unique_ptr<grpc::Server> server,
                                 std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      service_(std::move(service)),
      server_(std::move(server)),
      channel_(std::move(channel)),
      stub_(Echo::NewStub(channel_)) {}

RawGrpcBaseline::~RawGrpcBaseline() {
  server_->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  // Returns once every handler has returned; ~Server then joins the threads.
  server_->Wait();
}

std::unique_ptr<PingPongStream> RawGrpcBaseline::OpenPingPong(
    size_t payload_bytes) {
  return std::unique_ptr<PingPongStream>(
      new PingPongStream(*stub_, payload_bytes));
}

absl::StatusOr<SinkSummary> RawGrpcBaseline::StreamBlobs(int64_t count,
                                                         size_t payload_bytes) {
  const Blob blob = MakeBlob(payload_bytes);
  grpc::ClientContext context;
  SinkSummary summary;
  std::unique_ptr<grpc::ClientWriter<Blob>> writer =
      stub_->Sink(&context, &summary);
  int64_t written = 0;
  while (written < count && writer->Write(blob)) ++written;
  writer->WritesDone();
  if (absl::Status status = ToAbslStatus(writer->Finish()); !status.ok()) {
    return status;
  }
  const int64_t expected_bytes = count * static_cast<int64_t>(payload_bytes);
  if (written != count || summary.messages() != count ||
      summary.bytes() != expected_bytes) {
    return absl::InternalError(
        absl::StrCat("Sink: wrote ", written, " of ", count, " blobs (",
                     expected_bytes, " bytes); the server read ",
                     summary.messages(), " (", summary.bytes(), " bytes)"));
  }
  return summary;
}

}  // namespace bench
}  // namespace tether
