// File: tests/support/raw_opener.h
//
// Raw gRPC openers of tether.v1.Actor/Context, for tests that must send
// what Tether's own client never would: TypedCall writes Frames on the
// generated stub, GenericCall writes arbitrary bytes on grpc::GenericStub.
// The call's deadline (kRawCallLimit) bounds every operation; both record
// every frame the callee sent, then the final status.
//
//   TypedCall call(channel);
//   call.Write(StartFrame("park", token));
//   const RawOutcome outcome = call.Finish();
//
// One thread drives a call.

#ifndef TETHER_TESTS_SUPPORT_RAW_OPENER_H_
#define TETHER_TESTS_SUPPORT_RAW_OPENER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
#include "tether/v1/actor.grpc.pb.h"
#include "tether/v1/frame.pb.h"

namespace tether {

// Bounds one raw call: its gRPC deadline.
inline constexpr absl::Duration kRawCallLimit = absl::Seconds(20);

// Field 1 with wire type 7, which does not exist: no protobuf parser
// accepts it.
const std::string& Garbage();

// What a raw client saw: every frame the callee sent, then the status.
struct RawOutcome {
  std::vector<v1::Frame> frames;
  grpc::Status status;
};

// Start for the context function `function`, with a board token.
v1::Frame StartFrame(const std::string& function, const std::string& token);

// A Yield of one string payload of `bytes` characters.
v1::Frame YieldFrame(size_t bytes);

// "StartAck, Started, Error" for failure messages.
std::string FrameKinds(const RawOutcome& outcome);

// A raw client on the generated stub.
class TypedCall {
 public:
  explicit TypedCall(const std::shared_ptr<grpc::Channel>& channel);

  // False once the callee has ended the call.
  bool Write(const v1::Frame& frame) { return stream_->Write(frame); }

  // Cancels the call from this side.
  void Cancel() { context_.TryCancel(); }

  // The next frame; false at the end of the stream.
  bool Read(v1::Frame* frame);

  // Reads until the callee ends the call; every frame read so far and the
  // final status.
  RawOutcome Finish();

 private:
  std::unique_ptr<v1::Actor::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::Frame, v1::Frame>> stream_;
  RawOutcome outcome_;
};

// A raw client that writes bytes, on grpc::GenericStub with its own
// completion queue; each operation is awaited before the next.
class GenericCall {
 public:
  explicit GenericCall(const std::shared_ptr<grpc::Channel>& channel);
  ~GenericCall();

  bool started() const { return started_; }

  bool Write(const std::string& bytes);

  // The next frame; false at the end of the stream (or if the callee sent
  // something that is not a Frame, which fails the test).
  bool Read(v1::Frame* frame);

  RawOutcome Finish();

 private:
  // Waits for the one outstanding operation; the call's deadline makes it
  // complete, so waiting longer than that is a failure of its own.
  bool Await();

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
  RawOutcome outcome_;
};

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_RAW_OPENER_H_
