#include "tests/support/raw_opener.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "gtest/gtest.h"
#include "runtime/base/uuid.h"
#include "tether/value.h"

namespace tether {
namespace {

constexpr char kContextMethod[] = "/tether.v1.Actor/Context";

// How long past the call's deadline an operation may take to complete.
constexpr absl::Duration kCompletionSlack = absl::Seconds(10);

std::chrono::system_clock::time_point CallDeadline() {
  return absl::ToChronoTime(absl::Now() + kRawCallLimit);
}

}  // namespace

const std::string& Garbage() {
  static const std::string* garbage = new std::string("\x0f\xff\xff\xff", 4);
  return *garbage;
}

v1::Frame StartFrame(const std::string& function, const std::string& token) {
  v1::Frame frame;
  v1::Start* start = frame.mutable_start();
  start->set_function(function);
  start->set_kind(v1::FUNCTION_KIND_CONTEXT);
  *start->mutable_args() =
      Value::Object({{"token", Value::String(token)}}).ToProto();
  start->mutable_opener()->mutable_id()->set_name("raw-client");
  start->mutable_opener()->mutable_id()->set_uuid(NewUuid());
  start->set_context_id(NewUuid());
  return frame;
}

v1::Frame YieldFrame(size_t bytes) {
  v1::Frame frame;
  *frame.mutable_yield_batch()->add_values() =
      Value::String(std::string(bytes, 'x')).ToProto();
  return frame;
}

std::string FrameKinds(const RawOutcome& outcome) {
  std::string kinds;
  for (const v1::Frame& frame : outcome.frames) {
    const google::protobuf::FieldDescriptor* field =
        v1::Frame::descriptor()->FindFieldByNumber(
            static_cast<int>(frame.kind_case()));
    absl::StrAppend(&kinds, kinds.empty() ? "" : ", ",
                    field == nullptr ? "(empty)" : field->name());
  }
  return kinds;
}

TypedCall::TypedCall(const std::shared_ptr<grpc::Channel>& channel)
    : stub_(v1::Actor::NewStub(channel)) {
  context_.set_deadline(CallDeadline());
  stream_ = stub_->Context(&context_);
}

bool TypedCall::Read(v1::Frame* frame) {
  if (!stream_->Read(frame)) return false;
  outcome_.frames.push_back(*frame);
  return true;
}

RawOutcome TypedCall::Finish() {
  v1::Frame frame;
  while (Read(&frame)) {
  }
  outcome_.status = stream_->Finish();
  return outcome_;
}

GenericCall::GenericCall(const std::shared_ptr<grpc::Channel>& channel)
    : stub_(channel) {
  context_.set_deadline(CallDeadline());
  call_ = stub_.PrepareCall(&context_, kContextMethod, &queue_);
  call_->StartCall(this);
  started_ = Await();
}

GenericCall::~GenericCall() {
  queue_.Shutdown();
  void* tag;
  bool ok;
  while (queue_.Next(&tag, &ok)) {
  }
}

bool GenericCall::Write(const std::string& bytes) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);
  call_->Write(buffer, this);
  return Await();
}

bool GenericCall::Read(v1::Frame* frame) {
  grpc::ByteBuffer buffer;
  call_->Read(&buffer, this);
  if (!Await()) return false;
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_TRUE(frame->ParseFromString(bytes)) << "the callee sent a non-Frame";
  outcome_.frames.push_back(*frame);
  return true;
}

RawOutcome GenericCall::Finish() {
  v1::Frame frame;
  while (Read(&frame)) {
  }
  call_->Finish(&outcome_.status, this);
  Await();
  return outcome_;
}

bool GenericCall::Await() {
  void* tag = nullptr;
  bool ok = false;
  const grpc::CompletionQueue::NextStatus next = queue_.AsyncNext(
      &tag, &ok,
      absl::ToChronoTime(absl::Now() + kRawCallLimit + kCompletionSlack));
  if (next != grpc::CompletionQueue::GOT_EVENT) {
    ADD_FAILURE() << "a raw gRPC operation outlived the call's deadline";
    context_.TryCancel();
    EXPECT_TRUE(queue_.Next(&tag, &ok));
    return false;
  }
  EXPECT_EQ(tag, this);
  return ok;
}

}  // namespace tether
