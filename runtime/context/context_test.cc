// ContextCore driven one frame at a time, in one process and one thread,
// through a transport that writes nothing until the test says so (as CAF's
// deterministic fixture steps messages). Each test walks a row of the
// legal-frames table of docs/protocol.md section 2 on one side: the frames
// that row allows have their effect, and each frame it does not is a
// protocol violation that ends the context with an Error. Section 3's
// data_count rules are checked the same way.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/context/context_core.h"
#include "tether/errors.h"
#include "tether/task.h"
#include "tether/v1/frame.pb.h"

namespace tether {
namespace {

v1::ActorRef Actor(const std::string& name, const std::string& uuid) {
  v1::ActorRef ref;
  ref.mutable_id()->set_name(name);
  ref.mutable_id()->set_uuid(uuid);
  return ref;
}

const v1::ActorRef kOpener =
    Actor("opener", "00000000-0000-4000-8000-00000000000a");
const v1::ActorRef kCallee =
    Actor("callee", "00000000-0000-4000-8000-00000000000b");

// A transport that keeps every write in flight until the test completes
// it, and records what the context asked of it.
class SteppedTransport final : public ContextTransport {
 public:
  void StartWrite(absl::string_view frame, bool last) override {
    in_flight_.emplace_back(frame);
  }
  void ResumeReading() override {}
  void Finish(const absl::Status& status) override { finished_ = status; }
  void Signal(const v1::SignalRequest& request) override {
    signals_.push_back(request);
  }

  // Completes writes, each one the context starts meanwhile too, until
  // none is in flight; returns the frames they carried.
  std::vector<v1::Frame> Flush(ContextCore& context) {
    std::vector<v1::Frame> written;
    while (!in_flight_.empty()) {
      v1::Frame frame;
      EXPECT_TRUE(frame.ParseFromString(in_flight_.front()));
      in_flight_.pop_front();
      written.push_back(std::move(frame));
      context.OnWriteDone(true);
    }
    return written;
  }

  const std::optional<absl::Status>& finished() const { return finished_; }

 private:
  std::deque<std::string> in_flight_;
  std::optional<absl::Status> finished_;
  std::vector<v1::SignalRequest> signals_;
};

v1::Frame StartFrame(v1::FunctionKind kind) {
  v1::Frame frame;
  frame.mutable_start()->set_function("f");
  frame.mutable_start()->set_kind(kind);
  *frame.mutable_start()->mutable_opener() = kOpener;
  return frame;
}

v1::Frame StartAckFrame(v1::FunctionKind kind) {
  v1::Frame frame;
  *frame.mutable_start_ack()->mutable_callee() = kCallee;
  frame.mutable_start_ack()->set_kind(kind);
  return frame;
}

v1::Frame StartedFrame(int64_t value) {
  v1::Frame frame;
  *frame.mutable_started()->mutable_value() = Value::Int(value).ToProto();
  return frame;
}

v1::Frame YieldFrame(std::vector<int64_t> values) {
  v1::Frame frame;
  for (int64_t v : values) {
    *frame.mutable_yield_batch()->add_values() = Value::Int(v).ToProto();
  }
  return frame;
}

v1::Frame StopFrame(uint64_t data_count) {
  v1::Frame frame;
  frame.mutable_stop()->set_data_count(data_count);
  return frame;
}

v1::Frame ReturnFrame(int64_t value, uint64_t data_count) {
  v1::Frame frame;
  *frame.mutable_returned()->mutable_value() = Value::Int(value).ToProto();
  frame.mutable_returned()->set_data_count(data_count);
  return frame;
}

v1::Frame ErrorFrame(const absl::Status& error) {
  v1::Frame frame;
  *frame.mutable_error()->mutable_error() = *GetErrorInfo(error);
  return frame;
}

v1::Frame CancelFrame() {
  v1::Frame frame;
  *frame.mutable_cancel()->mutable_requester() = kOpener.id();
  return frame;
}

absl::Status AppError(const std::string& message) {
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_APPLICATION);
  info.set_type("ValueError");
  info.set_message(message);
  *info.mutable_source() = kCallee.id();
  return MakeError(info);
}

// One side of a context, its transport, and the scope its user code would
// run in; moved into a phase of the table by the frames that lead there.
class Side {
 public:
  Side(Context::Side side, v1::FunctionKind kind)
      : kind_(kind),
        transport_(std::make_shared<SteppedTransport>()),
        context_(std::make_shared<ContextCore>(
            side, side == Context::Side::kOpener ? kOpener : kCallee,
            side == Context::Side::kOpener ? kCallee : kOpener, "f", "ctx-1",
            kind, ContextOptions())) {
    context_->Attach(transport_);
    context_->BindScope(scope_.handle());
  }

  ContextCore& context() { return *context_; }
  CancelScope& scope() { return scope_; }
  SteppedTransport& transport() { return *transport_; }

  // The peer sent `frame`.
  void Receive(const v1::Frame& frame) {
    context_->OnFrame(frame.SerializeAsString());
  }
  // What this side wrote since the last call.
  std::vector<v1::Frame> Written() { return transport_->Flush(*context_); }

  // The opener's path through the table.
  void OpenerSendsStart() {
    context_->SendControl(StartFrame(kind_));
    Written();
  }
  void OpenerIsAcked() {
    OpenerSendsStart();
    Receive(StartAckFrame(kind_));
  }
  void OpenerIsStreaming() {
    OpenerIsAcked();
    Receive(StartedFrame(0));
  }

  // The callee's.
  void CalleeIsAcked() {
    context_->SendControl(StartAckFrame(kind_));
    Written();
  }
  void CalleeIsStreaming() {
    CalleeIsAcked();
    ASSERT_TRUE(context_->Started(Value::Int(0)).ok());
    Written();
  }

  // The context ended with a protocol error, and this side told its peer
  // with an Error frame of kind PROTOCOL.
  void ExpectViolation(const std::string& what) {
    SCOPED_TRACE(what);
    const std::optional<absl::StatusOr<Value>> outcome = context_->outcome();
    ASSERT_TRUE(outcome.has_value()) << "the context goes on";
    EXPECT_TRUE(IsProtocolError(outcome->status())) << outcome->status();
    bool reported = false;
    for (const v1::Frame& frame : Written()) {
      reported =
          reported || (frame.has_error() &&
                       frame.error().error().kind() == v1::ERROR_KIND_PROTOCOL);
    }
    EXPECT_TRUE(reported) << "no Error frame of kind PROTOCOL was written";
    EXPECT_TRUE(scope_.cancel_called()) << "the user's code is cancelled";
  }

  // Nothing ended: no outcome, nothing written, the user's code runs on.
  void ExpectNoEffect(const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(context_->outcome().has_value());
    EXPECT_TRUE(Written().empty());
    EXPECT_FALSE(scope_.cancel_called());
  }

 private:
  const v1::FunctionKind kind_;
  CancelScope scope_;
  std::shared_ptr<SteppedTransport> transport_;
  std::shared_ptr<ContextCore> context_;
};

std::unique_ptr<Side> Opener(v1::FunctionKind kind) {
  return std::make_unique<Side>(Context::Side::kOpener, kind);
}

std::unique_ptr<Side> Callee(v1::FunctionKind kind) {
  return std::make_unique<Side>(Context::Side::kCallee, kind);
}

constexpr v1::FunctionKind kContextFn = v1::FUNCTION_KIND_CONTEXT;
constexpr v1::FunctionKind kPlainFn = v1::FUNCTION_KIND_PLAIN;

// --- The opener, row by row ---

TEST(ContextOpenerTest, OpeningAcceptsNothingBeforeItsStart) {
  for (const v1::Frame& frame :
       {StartAckFrame(kContextFn), StartedFrame(0), YieldFrame({1})}) {
    auto opener = Opener(kContextFn);
    opener->Receive(frame);
    opener->ExpectViolation(frame.ShortDebugString());
  }
}

TEST(ContextOpenerTest, StartingTakesStartAckWithTheCalleesRef) {
  auto opener = Opener(kContextFn);
  opener->OpenerSendsStart();
  opener->Receive(StartAckFrame(kContextFn));
  opener->ExpectNoEffect("StartAck");
  EXPECT_EQ(opener->context().peer().uuid(), kCallee.id().uuid());
}

TEST(ContextOpenerTest, StartingTakesALoneErrorAsTheOutcome) {
  auto opener = Opener(kContextFn);
  opener->OpenerSendsStart();
  opener->Receive(ErrorFrame(AppError("no such thing")));
  const std::optional<absl::StatusOr<Value>> outcome =
      opener->context().outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(GetErrorInfo(outcome->status())->message(), "no such thing");
  EXPECT_TRUE(opener->context().final_frame_arrived());
  EXPECT_TRUE(opener->Written().empty()) << "an error is no violation";
}

TEST(ContextOpenerTest, StartingRefusesEveryOtherFrame) {
  for (const v1::Frame& frame :
       {StartedFrame(0), YieldFrame({1}), StopFrame(0), ReturnFrame(1, 0),
        StartFrame(kContextFn), CancelFrame()}) {
    auto opener = Opener(kContextFn);
    opener->OpenerSendsStart();
    opener->Receive(frame);
    opener->ExpectViolation(frame.ShortDebugString());
  }
}

TEST(ContextOpenerTest, AckedTakesStartedFromAContextFunction) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsAcked();
  opener->Receive(StartedFrame(7));
  const absl::StatusOr<Value> started = opener->context().WaitStarted();
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(*started, Value::Int(7));
  opener->ExpectNoEffect("Started");
}

TEST(ContextOpenerTest, AckedTakesReturnFromAPlainFunction) {
  auto opener = Opener(kPlainFn);
  opener->OpenerIsAcked();
  opener->Receive(ReturnFrame(42, 0));
  const absl::StatusOr<Value> result = opener->context().Result();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Value::Int(42));
}

TEST(ContextOpenerTest, AckedRefusesWhatTheKindForbids) {
  auto context_fn = Opener(kContextFn);
  context_fn->OpenerIsAcked();
  context_fn->Receive(ReturnFrame(1, 0));
  context_fn->ExpectViolation("Return before Started");

  auto plain_fn = Opener(kPlainFn);
  plain_fn->OpenerIsAcked();
  plain_fn->Receive(StartedFrame(0));
  plain_fn->ExpectViolation("Started from a plain function");
}

TEST(ContextOpenerTest, AckedRefusesEveryOtherFrame) {
  for (const v1::Frame& frame :
       {StartAckFrame(kContextFn), YieldFrame({1}), StopFrame(0),
        StartFrame(kContextFn), CancelFrame()}) {
    auto opener = Opener(kContextFn);
    opener->OpenerIsAcked();
    opener->Receive(frame);
    opener->ExpectViolation(frame.ShortDebugString());
  }
}

TEST(ContextOpenerTest, StreamingDeliversDataThenStopThenReturn) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  absl::StatusOr<MsgStream> stream = opener->context().OpenStream();
  ASSERT_TRUE(stream.ok()) << stream.status();
  opener->Receive(YieldFrame({1, 2}));
  opener->Receive(StopFrame(3));  // overtakes the payload it counts
  opener->Receive(YieldFrame({3}));
  opener->Receive(ReturnFrame(3, 3));
  std::vector<Value> received;
  for (const Value& v : *stream) received.push_back(v);
  EXPECT_TRUE(stream->status().ok()) << stream->status();
  EXPECT_EQ(received,
            (std::vector<Value>{Value::Int(1), Value::Int(2), Value::Int(3)}));
  const absl::StatusOr<Value> result = opener->context().Result();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Value::Int(3));
  EXPECT_TRUE(opener->Written().empty());
}

TEST(ContextOpenerTest, StreamingTakesTheCalleesError) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  opener->Receive(ErrorFrame(AppError("boom")));
  const std::optional<absl::StatusOr<Value>> outcome =
      opener->context().outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(GetErrorInfo(outcome->status())->message(), "boom");
  EXPECT_TRUE(opener->scope().cancel_called())
      << "a callee error cancels the opener's block";
}

TEST(ContextOpenerTest, StreamingRefusesEveryOtherFrame) {
  for (const v1::Frame& frame : {StartAckFrame(kContextFn), StartedFrame(1),
                                 StartFrame(kContextFn), CancelFrame()}) {
    auto opener = Opener(kContextFn);
    opener->OpenerIsStreaming();
    opener->Receive(frame);
    opener->ExpectViolation(frame.ShortDebugString());
  }
}

TEST(ContextOpenerTest, StreamingRefusesASecondStop) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  opener->Receive(StopFrame(0));
  opener->Receive(StopFrame(0));
  opener->ExpectViolation("Stop twice");
}

TEST(ContextOpenerTest, PayloadsPastAStopsDataCountEndTheContext) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  absl::StatusOr<MsgStream> stream = opener->context().OpenStream();
  ASSERT_TRUE(stream.ok());
  opener->Receive(StopFrame(1));
  opener->Receive(YieldFrame({1, 2}));
  opener->ExpectViolation("two payloads after Stop{data_count: 1}");
  EXPECT_TRUE(IsProtocolError(stream->Receive().status()))
      << "the stream reports the violation, not an end of stream";
}

TEST(ContextOpenerTest, CancellingChangesNoFramesLegality) {
  // A Cancel crosses data the callee already sent; its ContextCancelled
  // confirms it and is absorbed.
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  absl::StatusOr<MsgStream> stream = opener->context().OpenStream();
  ASSERT_TRUE(stream.ok());
  opener->context().Cancel();
  std::vector<v1::Frame> written = opener->Written();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_TRUE(written[0].has_cancel());
  opener->Receive(YieldFrame({1}));
  opener->Receive(ErrorFrame(ContextCancelledError(kOpener.id(), kCallee.id(),
                                                   "cancelled by opener")));
  EXPECT_TRUE(opener->context().cancel_acked());
  EXPECT_TRUE(opener->context().ExitBlock(absl::OkStatus()).ok())
      << "the opener absorbs the cancel it asked for";
  EXPECT_TRUE(opener->Written().empty()) << "nothing was a violation";
}

TEST(ContextOpenerTest, FinishingDeliversWhatReturnStillOwes) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  absl::StatusOr<MsgStream> stream = opener->context().OpenStream();
  ASSERT_TRUE(stream.ok());
  opener->Receive(ReturnFrame(9, 2));
  EXPECT_TRUE(opener->context().final_frame_arrived());
  opener->Receive(YieldFrame({1, 2}));
  absl::StatusOr<Value> first = stream->Receive();
  absl::StatusOr<Value> second = stream->Receive();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*second, Value::Int(2));
  EXPECT_TRUE(absl::IsOutOfRange(stream->Receive().status()));
  EXPECT_TRUE(opener->Written().empty());
}

TEST(ContextOpenerTest, PayloadsPastAReturnsDataCountEndTheContext) {
  auto opener = Opener(kContextFn);
  opener->OpenerIsStreaming();
  opener->Receive(ReturnFrame(9, 1));
  opener->Receive(YieldFrame({1, 2}));
  opener->ExpectViolation("two payloads after Return{data_count: 1}");
}

TEST(ContextOpenerTest, FinishingRefusesEveryOtherFrame) {
  for (const v1::Frame& frame :
       {StartAckFrame(kContextFn), StartedFrame(1), StopFrame(0),
        ReturnFrame(1, 0), StartFrame(kContextFn), CancelFrame()}) {
    auto opener = Opener(kContextFn);
    opener->OpenerIsStreaming();
    opener->Receive(ReturnFrame(9, 0));
    opener->Receive(frame);
    opener->ExpectViolation(frame.ShortDebugString());
  }
}

// --- The callee, row by row ---

TEST(ContextCalleeTest, StartingAndAckedTakePipelinedDataAndStop) {
  // Before Started the opener may pipeline its data; it waits in the
  // buffer until the function opens its stream.
  auto callee = Callee(kContextFn);
  callee->Receive(YieldFrame({1}));
  callee->CalleeIsAcked();
  callee->Receive(YieldFrame({2}));
  callee->Receive(StopFrame(2));
  callee->ExpectNoEffect("pipelined data");
  ASSERT_TRUE(callee->context().Started().ok());
  absl::StatusOr<MsgStream> stream = callee->context().OpenStream();
  ASSERT_TRUE(stream.ok());
  std::vector<Value> received;
  for (const Value& v : *stream) received.push_back(v);
  EXPECT_EQ(received, (std::vector<Value>{Value::Int(1), Value::Int(2)}));
}

TEST(ContextCalleeTest, CancelIsAppliedInEveryPhaseBeforeTheFinalFrame) {
  for (int phase = 0; phase < 3; ++phase) {
    SCOPED_TRACE(phase);
    auto callee = Callee(kContextFn);
    if (phase == 1) callee->CalleeIsAcked();
    if (phase == 2) callee->CalleeIsStreaming();
    callee->Receive(CancelFrame());
    EXPECT_TRUE(callee->scope().cancel_called());
    EXPECT_TRUE(IsContextCancelled(callee->scope().reason()));
    ASSERT_TRUE(callee->context().canceller().has_value());
    EXPECT_EQ(callee->context().canceller()->uuid(), kOpener.id().uuid());
  }
}

TEST(ContextCalleeTest, TheOpenersErrorFailsTheTask) {
  auto callee = Callee(kContextFn);
  callee->CalleeIsStreaming();
  callee->Receive(
      ErrorFrame(StreamOverrunError(kCallee.id(), kOpener.id(), 64)));
  EXPECT_TRUE(callee->scope().cancel_called());
  EXPECT_TRUE(IsStreamOverrun(callee->scope().reason()));
}

TEST(ContextCalleeTest, OnlyTheOpenersFramesAreLegal) {
  for (int phase = 0; phase < 3; ++phase) {
    for (const v1::Frame& frame :
         {StartFrame(kContextFn), StartAckFrame(kContextFn), StartedFrame(1),
          ReturnFrame(1, 0)}) {
      SCOPED_TRACE(phase);
      auto callee = Callee(kContextFn);
      if (phase == 1) callee->CalleeIsAcked();
      if (phase == 2) callee->CalleeIsStreaming();
      callee->Receive(frame);
      callee->ExpectViolation(frame.ShortDebugString());
      ASSERT_TRUE(callee->transport().finished().has_value());
      EXPECT_TRUE(IsProtocolError(*callee->transport().finished()))
          << "the call ends with the protocol error's status";
    }
  }
}

TEST(ContextCalleeTest, YieldToAPlainFunctionIsAViolation) {
  auto callee = Callee(kPlainFn);
  callee->CalleeIsAcked();
  callee->Receive(YieldFrame({1}));
  callee->ExpectViolation("Yield to a plain function");
}

TEST(ContextCalleeTest, PayloadsPastAStopsDataCountEndTheContext) {
  // The acceptance case: Stop{data_count: 0}, then a Yield, left a
  // sleeping function's context open with no Error.
  auto callee = Callee(kContextFn);
  callee->CalleeIsStreaming();
  callee->Receive(StopFrame(0));
  callee->ExpectNoEffect("Stop");
  callee->Receive(YieldFrame({1}));
  callee->ExpectViolation("a payload after Stop{data_count: 0}");
}

TEST(ContextCalleeTest, AStopBelowWhatArrivedEndsTheContext) {
  auto callee = Callee(kContextFn);
  callee->CalleeIsStreaming();
  callee->Receive(YieldFrame({1, 2}));
  callee->Receive(StopFrame(1));
  callee->ExpectViolation("Stop{data_count: 1} after two payloads");
}

TEST(ContextCalleeTest, HalfCloseIsAStopAfterWhatArrived) {
  auto callee = Callee(kContextFn);
  callee->CalleeIsStreaming();
  absl::StatusOr<MsgStream> stream = callee->context().OpenStream();
  ASSERT_TRUE(stream.ok());
  callee->Receive(YieldFrame({1}));
  callee->context().OnPeerHalfClose();
  EXPECT_TRUE(stream->Receive().ok());
  EXPECT_TRUE(absl::IsOutOfRange(stream->Receive().status()));
  callee->Receive(YieldFrame({2}));
  callee->ExpectViolation("a payload after half-closing");
}

TEST(ContextCalleeTest, FinishingIgnoresWhateverCrossesTheFinalFrame) {
  for (const v1::Frame& frame :
       {YieldFrame({1}), StopFrame(0), CancelFrame(),
        ErrorFrame(AppError("late")), StartFrame(kContextFn)}) {
    auto callee = Callee(kContextFn);
    callee->CalleeIsStreaming();
    callee->context().FinishCallee(Value::Int(5));
    std::vector<v1::Frame> written = callee->Written();
    ASSERT_FALSE(written.empty());
    EXPECT_TRUE(written.back().has_returned());
    callee->Receive(frame);
    SCOPED_TRACE(frame.ShortDebugString());
    EXPECT_TRUE(callee->Written().empty()) << "no Error follows the Return";
    const std::optional<absl::StatusOr<Value>> outcome =
        callee->context().outcome();
    ASSERT_TRUE(outcome.has_value() && outcome->ok());
    EXPECT_EQ(**outcome, Value::Int(5));
  }
}

TEST(ContextCalleeTest, MisusesOfStartedBecomeTheFinalError) {
  auto twice = Callee(kContextFn);
  twice->CalleeIsStreaming();
  EXPECT_FALSE(twice->context().Started().ok());

  auto plain = Callee(kPlainFn);
  plain->CalleeIsAcked();
  EXPECT_FALSE(plain->context().Started().ok());
  plain->context().FinishCallee(Value::Int(1));
  const std::vector<v1::Frame> written = plain->Written();
  ASSERT_FALSE(written.empty());
  ASSERT_TRUE(written.back().has_error());
  EXPECT_EQ(written.back().error().error().type(), "std::logic_error");
}

}  // namespace
}  // namespace tether
