// tether.v1.Debug at the protocol level: raw Debug/Lock streams (gRPC's
// synchronous client, one frame at a time) against a DebugService in this
// process, and Debug/Status to see who holds and who waits. No terminal.
//
// Every call has a deadline, so a frame that never comes fails the test
// instead of hanging it; waits for the lock's state poll Status with a
// deadline.

#include "server/debug/debug_service.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rpc/tree_channel.h"
#include "runtime/base/uuid.h"
#include "server/debug/served_debug_lock.h"
#include "testing/poll_until.h"
#include "tether/errors.h"
#include "tether/v1/debug.grpc.pb.h"
#include "tether/value.h"

namespace tether {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(20);
constexpr absl::Duration kStateDeadline = absl::Seconds(10);

v1::DebugLockRequest RequestFrom(const std::string& name) {
  v1::DebugLockRequest request;
  request.mutable_requester()->set_name(name);
  request.mutable_requester()->set_uuid(NewUuid());
  request.set_pid(4242);
  request.set_task("main");
  request.set_reason(v1::DebugLockRequest::REASON_PAUSE);
  return request;
}

v1::Frame StartWithArgs(const Value& args) {
  v1::Frame frame;
  v1::Start* start = frame.mutable_start();
  start->set_function(kDebugLockFunction);
  start->set_kind(v1::FUNCTION_KIND_CONTEXT);
  start->set_context_id(NewUuid());
  *start->mutable_args() = args.ToProto();
  return frame;
}

v1::Frame StartFrame(const v1::DebugLockRequest& request) {
  return StartWithArgs(Value::Message(request));
}

v1::Frame StopFrame() {
  v1::Frame frame;
  frame.mutable_stop();
  return frame;
}

std::vector<std::string> Names(
    const google::protobuf::RepeatedPtrField<v1::DebugLockRequest>& requests) {
  std::vector<std::string> names;
  for (const v1::DebugLockRequest& request : requests) {
    names.push_back(request.requester().name());
  }
  return names;
}

// One raw Debug/Lock stream. Not thread-safe.
class LockStream {
 public:
  explicit LockStream(v1::Debug::Stub& stub) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    stream_ = stub.Lock(&context_);
  }

  bool Write(const v1::Frame& frame) { return stream_->Write(frame); }

  // The next frame, or nullopt when the root ended the stream.
  std::optional<v1::Frame> Read() {
    v1::Frame frame;
    if (!stream_->Read(&frame)) return std::nullopt;
    return frame;
  }

  // Start, then the root's StartAck.
  void Request(const v1::DebugLockRequest& request) {
    ASSERT_TRUE(Write(StartFrame(request)));
    const std::optional<v1::Frame> ack = Read();
    ASSERT_TRUE(ack.has_value());
    ASSERT_TRUE(ack->has_start_ack()) << ack->DebugString();
    EXPECT_EQ(ack->start_ack().kind(), v1::FUNCTION_KIND_CONTEXT);
  }

  // Reads the Started frame that grants the lock; returns its grant.
  v1::DebugLockGrant AwaitGrant() {
    const std::optional<v1::Frame> frame = Read();
    EXPECT_TRUE(frame.has_value()) << "the stream ended before the grant";
    if (!frame.has_value()) return {};
    EXPECT_TRUE(frame->has_started()) << frame->DebugString();
    absl::StatusOr<Value> value = Value::FromProto(frame->started().value());
    EXPECT_TRUE(value.ok()) << value.status();
    if (!value.ok()) return {};
    absl::StatusOr<v1::DebugLockGrant> grant = value->As<v1::DebugLockGrant>();
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.value_or(v1::DebugLockGrant());
  }

  // Reads the Return{DebugLockRelease} that confirms a release, then the
  // end of the stream; returns the call's status.
  grpc::Status AwaitRelease() {
    const std::optional<v1::Frame> frame = Read();
    EXPECT_TRUE(frame.has_value()) << "the stream ended before Return";
    if (frame.has_value()) {
      EXPECT_TRUE(frame->has_returned()) << frame->DebugString();
      absl::StatusOr<Value> value = Value::FromProto(frame->returned().value());
      EXPECT_TRUE(value.ok() && value->As<v1::DebugLockRelease>().ok())
          << frame->DebugString();
    }
    return Finish();
  }

  // Reads the Error frame that ends the stream; returns its ErrorInfo.
  v1::ErrorInfo AwaitError() {
    const std::optional<v1::Frame> frame = Read();
    EXPECT_TRUE(frame.has_value()) << "the stream ended without Error";
    if (!frame.has_value()) return {};
    EXPECT_TRUE(frame->has_error()) << frame->DebugString();
    return frame->error().error();
  }

  void HalfClose() { stream_->WritesDone(); }
  void Cancel() { context_.TryCancel(); }

  // Drains what is left and returns the call's status.
  grpc::Status Finish() {
    v1::Frame frame;
    while (stream_->Read(&frame)) {
      ADD_FAILURE() << "unexpected frame: " << frame.DebugString();
    }
    return stream_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::Frame, v1::Frame>> stream_;
};

class DebugServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.status().ok()) << served_.status();
    stub_ = v1::Debug::NewStub(
        DialTree(served_.address().ToString(), served_.token()));
  }

  v1::DebugStatus Status() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    v1::DebugStatus status;
    const grpc::Status rpc =
        stub_->Status(&context, v1::DebugStatusRequest(), &status);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return status;
  }

  // Polls Status until `ready` holds; returns the last status seen.
  template <typename Ready>
  v1::DebugStatus AwaitStatus(Ready ready, absl::string_view what) {
    v1::DebugStatus status;
    PollUntil(absl::Now() + kStateDeadline, [&] {
      status = Status();
      return ready(status);
    });
    EXPECT_TRUE(ready(status)) << "no " << what << " within " << kStateDeadline
                               << ": " << status.DebugString();
    return status;
  }

  v1::DebugStatus AwaitWaiters(int count) {
    return AwaitStatus(
        [count](const v1::DebugStatus& s) { return s.waiters_size() == count; },
        absl::StrCat(count, " waiters"));
  }

  std::unique_ptr<LockStream> Open() {
    return std::make_unique<LockStream>(*stub_);
  }

  // `request` takes the lock with a waiter behind it; then its call is
  // cancelled (not half-closed) and the waiter granted. Returns the waiter,
  // now the holder.
  std::unique_ptr<LockStream> CancelHolderWithAWaiterBehind(
      const v1::DebugLockRequest& request) {
    std::unique_ptr<LockStream> holder = Open();
    std::unique_ptr<LockStream> waiter = Open();
    holder->Request(request);
    holder->AwaitGrant();
    waiter->Request(RequestFrom("waiter"));
    AwaitWaiters(1);

    holder->Cancel();
    waiter->AwaitGrant();
    EXPECT_EQ(holder->Finish().error_code(), grpc::StatusCode::CANCELLED);
    return waiter;
  }

  ServedDebugLock served_;
  std::unique_ptr<v1::Debug::Stub> stub_;
};

TEST_F(DebugServiceTest, StatusIsEmptyWhenNobodyAsked) {
  const v1::DebugStatus status = Status();
  EXPECT_FALSE(status.has_holder());
  EXPECT_EQ(status.waiters_size(), 0);
  EXPECT_EQ(status.blocked_size(), 0);
}

TEST_F(DebugServiceTest, ThreeStreamsAreGrantedFirstInFirstOut) {
  const v1::DebugLockRequest a = RequestFrom("a");
  const v1::DebugLockRequest b = RequestFrom("b");
  const v1::DebugLockRequest c = RequestFrom("c");
  std::unique_ptr<LockStream> sa = Open();
  std::unique_ptr<LockStream> sb = Open();
  std::unique_ptr<LockStream> sc = Open();

  sa->Request(a);
  EXPECT_EQ(sa->AwaitGrant().waited_behind(), 0u);
  sb->Request(b);
  AwaitWaiters(1);
  sc->Request(c);
  v1::DebugStatus status = AwaitWaiters(2);
  EXPECT_EQ(status.holder().requester().uuid(), a.requester().uuid());
  EXPECT_EQ(status.holder().pid(), a.pid());
  EXPECT_EQ(status.holder().task(), "main");
  EXPECT_EQ(status.holder().reason(), v1::DebugLockRequest::REASON_PAUSE);
  EXPECT_EQ(Names(status.waiters()), std::vector<std::string>({"b", "c"}));

  ASSERT_TRUE(sa->Write(StopFrame()));
  EXPECT_TRUE(sa->AwaitRelease().ok());
  EXPECT_EQ(sb->AwaitGrant().waited_behind(), 1u);
  status = Status();
  EXPECT_EQ(status.holder().requester().name(), "b");
  EXPECT_EQ(Names(status.waiters()), std::vector<std::string>({"c"}));

  ASSERT_TRUE(sb->Write(StopFrame()));
  EXPECT_TRUE(sb->AwaitRelease().ok());
  EXPECT_EQ(sc->AwaitGrant().waited_behind(), 2u);
  EXPECT_EQ(Status().holder().requester().name(), "c");

  ASSERT_TRUE(sc->Write(StopFrame()));
  EXPECT_TRUE(sc->AwaitRelease().ok());
  status = Status();
  EXPECT_FALSE(status.has_holder());
  EXPECT_EQ(status.waiters_size(), 0);
  EXPECT_EQ(status.blocked_size(), 0);
}

TEST_F(DebugServiceTest, HalfCloseReleasesTheLock) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> waiter = Open();
  holder->Request(RequestFrom("holder"));
  holder->AwaitGrant();
  waiter->Request(RequestFrom("waiter"));
  AwaitWaiters(1);

  holder->HalfClose();
  EXPECT_TRUE(holder->AwaitRelease().ok());
  EXPECT_EQ(waiter->AwaitGrant().waited_behind(), 1u);
  const v1::DebugStatus status = Status();
  EXPECT_EQ(status.holder().requester().name(), "waiter");
  // A release, not a lost channel: nobody is blocked.
  EXPECT_EQ(status.blocked_size(), 0);

  waiter->HalfClose();
  EXPECT_TRUE(waiter->AwaitRelease().ok());
  EXPECT_FALSE(Status().has_holder());
}

TEST_F(DebugServiceTest, HalfClosingWaiterWithdrawsAndIsNeverGranted) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> quitter = Open();
  std::unique_ptr<LockStream> last = Open();
  holder->Request(RequestFrom("holder"));
  holder->AwaitGrant();
  quitter->Request(RequestFrom("quitter"));
  AwaitWaiters(1);
  last->Request(RequestFrom("last"));
  AwaitWaiters(2);

  quitter->HalfClose();
  EXPECT_TRUE(quitter->AwaitRelease().ok());
  EXPECT_EQ(Names(AwaitWaiters(1).waiters()),
            std::vector<std::string>({"last"}));

  ASSERT_TRUE(holder->Write(StopFrame()));
  EXPECT_TRUE(holder->AwaitRelease().ok());
  last->AwaitGrant();
  EXPECT_EQ(Status().holder().requester().name(), "last");
  ASSERT_TRUE(last->Write(StopFrame()));
  EXPECT_TRUE(last->AwaitRelease().ok());
}

TEST_F(DebugServiceTest, CancelledHolderHandsTheLockToTheNextWaiter) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> waiter = Open();
  holder->Request(RequestFrom("lost"));
  holder->AwaitGrant();
  waiter->Request(RequestFrom("waiter"));
  AwaitWaiters(1);

  holder->Cancel();
  EXPECT_EQ(waiter->AwaitGrant().waited_behind(), 1u);
  EXPECT_EQ(holder->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(Status().holder().requester().name(), "waiter");

  ASSERT_TRUE(waiter->Write(StopFrame()));
  EXPECT_TRUE(waiter->AwaitRelease().ok());
}

// A holder whose call breaks (not a half-close) lost its channel: the lock
// passes on and its actor is blocked.
TEST_F(DebugServiceTest, CancelledHoldersActorIsBlocked) {
  const v1::DebugLockRequest lost = RequestFrom("lost");
  std::unique_ptr<LockStream> waiter = CancelHolderWithAWaiterBehind(lost);
  const v1::DebugStatus status = Status();
  ASSERT_EQ(status.blocked_size(), 1) << status.DebugString();
  EXPECT_EQ(status.blocked(0).uuid(), lost.requester().uuid());
  EXPECT_EQ(status.blocked(0).name(), "lost");

  // Its next request is refused.
  std::unique_ptr<LockStream> again = Open();
  again->Request(lost);
  EXPECT_EQ(again->AwaitError().type(), kDebugLockRefusedType);
  EXPECT_TRUE(again->Finish().ok());

  ASSERT_TRUE(waiter->Write(StopFrame()));
  EXPECT_TRUE(waiter->AwaitRelease().ok());
}

// The root's own holding stream breaks when its prompt's task is
// cancelled; the root cannot lose its channel to itself, so the lock is
// released and the root stays unblocked (also when a peer claims to be it).
TEST_F(DebugServiceTest, CancelledHolderNamingTheRootReleasesWithoutBlocking) {
  v1::DebugLockRequest own = RequestFrom("root");
  *own.mutable_requester() = served_.root();
  std::unique_ptr<LockStream> waiter = CancelHolderWithAWaiterBehind(own);
  EXPECT_EQ(Status().blocked_size(), 0) << Status().DebugString();
  ASSERT_TRUE(waiter->Write(StopFrame()));
  EXPECT_TRUE(waiter->AwaitRelease().ok());

  // The root may still take the lock.
  std::unique_ptr<LockStream> again = Open();
  again->Request(own);
  again->AwaitGrant();
  ASSERT_TRUE(again->Write(StopFrame()));
  EXPECT_TRUE(again->AwaitRelease().ok());
}

TEST_F(DebugServiceTest, CancelledWaiterOnlyWithdraws) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> waiter = Open();
  holder->Request(RequestFrom("holder"));
  holder->AwaitGrant();
  waiter->Request(RequestFrom("waiter"));
  AwaitWaiters(1);

  waiter->Cancel();
  EXPECT_EQ(waiter->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const v1::DebugStatus status = AwaitWaiters(0);
  EXPECT_EQ(status.holder().requester().name(), "holder");
  EXPECT_EQ(status.blocked_size(), 0);

  ASSERT_TRUE(holder->Write(StopFrame()));
  EXPECT_TRUE(holder->AwaitRelease().ok());
  EXPECT_FALSE(Status().has_holder());
}

TEST_F(DebugServiceTest, BlockedRequesterIsRefused) {
  // The root saw this actor lose its channel while it held the lock.
  const v1::DebugLockRequest blocked = RequestFrom("blocked");
  absl::StatusOr<uint64_t> ticket =
      served_.lock().Request(blocked, [](uint32_t) {});
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  served_.lock().Abandon(*ticket);

  std::unique_ptr<LockStream> stream = Open();
  stream->Request(blocked);
  const v1::ErrorInfo error = stream->AwaitError();
  EXPECT_EQ(error.type(), kDebugLockRefusedType);
  EXPECT_EQ(error.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED);
  EXPECT_EQ(error.canceller().uuid(), served_.root().uuid());
  EXPECT_EQ(error.source().uuid(), served_.root().uuid());
  EXPECT_NE(error.message().find("debug lock refused to blocked["),
            std::string::npos)
      << error.message();
  EXPECT_TRUE(stream->Finish().ok());

  // The refusal took no place in the queue; others are still served.
  v1::DebugStatus status = Status();
  EXPECT_FALSE(status.has_holder());
  EXPECT_EQ(status.waiters_size(), 0);
  std::unique_ptr<LockStream> other = Open();
  other->Request(RequestFrom("other"));
  other->AwaitGrant();
  ASSERT_TRUE(other->Write(StopFrame()));
  EXPECT_TRUE(other->AwaitRelease().ok());
}

// The first frame of a Debug/Lock stream must be Start{function:
// "tty_lock", args: DebugLockRequest}; anything else is refused with a
// protocol error and leaves the lock alone.
struct MalformedCase {
  std::string name;
  v1::Frame first;
};

class MalformedFirstFrameTest
    : public DebugServiceTest,
      public testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedFirstFrameTest, IsAProtocolErrorAndAFailedCall) {
  std::unique_ptr<LockStream> stream = Open();
  ASSERT_TRUE(stream->Write(GetParam().first));
  const v1::ErrorInfo error = stream->AwaitError();
  EXPECT_EQ(error.kind(), v1::ERROR_KIND_PROTOCOL) << error.DebugString();
  EXPECT_EQ(error.type(), kProtocolErrorType);
  EXPECT_EQ(error.source().uuid(), served_.root().uuid());
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const v1::DebugStatus status = Status();
  EXPECT_FALSE(status.has_holder());
  EXPECT_EQ(status.waiters_size(), 0);
}

MalformedCase StopFirst() { return {"StopFirst", StopFrame()}; }

MalformedCase OtherFunction() {
  v1::Frame frame = StartFrame(RequestFrom("x"));
  frame.mutable_start()->set_function("not_the_lock");
  return {"OtherFunction", frame};
}

MalformedCase ArgsNotARequest() {
  return {"ArgsNotARequest", StartWithArgs(Value::String("let me in"))};
}

MalformedCase ArgsOfAnotherMessage() {
  return {"ArgsOfAnotherMessage",
          StartWithArgs(Value::Message(v1::DebugStatusRequest()))};
}

MalformedCase RequestAbove4KB() {
  v1::DebugLockRequest request = RequestFrom("large");
  request.set_task(std::string(5000, 't'));
  return {"RequestAbove4KB", StartFrame(request)};
}

INSTANTIATE_TEST_SUITE_P(DebugService, MalformedFirstFrameTest,
                         testing::Values(StopFirst(), OtherFunction(),
                                         ArgsNotARequest(),
                                         ArgsOfAnotherMessage(),
                                         RequestAbove4KB()),
                         [](const testing::TestParamInfo<MalformedCase>& info) {
                           return info.param.name;
                         });

TEST_F(DebugServiceTest, StreamEndingBeforeStartIsRefused) {
  std::unique_ptr<LockStream> stream = Open();
  stream->HalfClose();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DebugServiceTest, SecondFrameOtherThanStopOrCancelIsAProtocolError) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> waiter = Open();
  holder->Request(RequestFrom("holder"));
  holder->AwaitGrant();
  waiter->Request(RequestFrom("waiter"));
  AwaitWaiters(1);

  ASSERT_TRUE(holder->Write(StartFrame(RequestFrom("holder"))));
  EXPECT_EQ(holder->AwaitError().kind(), v1::ERROR_KIND_PROTOCOL);
  EXPECT_EQ(holder->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  waiter->Cancel();
  EXPECT_EQ(waiter->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// A holder refused for a protocol error releases the lock: OnCancel never
// runs for a call the server finished itself, so Refuse must.
TEST_F(DebugServiceTest, HolderRefusedForAProtocolErrorReleases) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> waiter = Open();
  holder->Request(RequestFrom("holder"));
  holder->AwaitGrant();
  waiter->Request(RequestFrom("waiter"));
  AwaitWaiters(1);

  ASSERT_TRUE(holder->Write(StartFrame(RequestFrom("holder"))));
  EXPECT_EQ(holder->AwaitError().kind(), v1::ERROR_KIND_PROTOCOL);
  EXPECT_EQ(holder->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(waiter->AwaitGrant().waited_behind(), 1u);
  ASSERT_TRUE(waiter->Write(StopFrame()));
  EXPECT_TRUE(waiter->AwaitRelease().ok());
}

TEST_F(DebugServiceTest, CancelFrameWithdrawsAWaiter) {
  std::unique_ptr<LockStream> holder = Open();
  std::unique_ptr<LockStream> waiter = Open();
  holder->Request(RequestFrom("holder"));
  holder->AwaitGrant();
  waiter->Request(RequestFrom("waiter"));
  AwaitWaiters(1);

  v1::Frame cancel;
  cancel.mutable_cancel();
  ASSERT_TRUE(waiter->Write(cancel));
  EXPECT_EQ(waiter->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(AwaitWaiters(0).holder().requester().name(), "holder");
  ASSERT_TRUE(holder->Write(StopFrame()));
  EXPECT_TRUE(holder->AwaitRelease().ok());
  EXPECT_FALSE(Status().has_holder());
}

}  // namespace
}  // namespace tether
