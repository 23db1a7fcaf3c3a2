// Actor/Signal only from a context's own peer: a Signal must carry the
// signal key the receiving side handed out for the context (StartAck's, to
// a callee), so a caller of the same tree that learned the context's id
// and its opener's id (both public through Actor/Info) still cannot end
// it; and two openers that chose the same context id keep two contexts.
// Raw openers on the generated stub against tests/flow_test_actor.
//
// A Signal the callee takes is applied once it stops reading the stream,
// or superseded by its in-band copy (docs/protocol.md §5); these openers
// never stop the callee's reading, so "taken" (applied: true) is what a
// right key shows, and "not taken" what a wrong one does.

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "rpc/tree_channel.h"
#include "tests/contexts/flow_test_fixture.h"
#include "tests/support/raw_opener.h"
#include "tests/support/test_token.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {
namespace {

constexpr absl::Duration kPromptly = absl::Seconds(10);

class SignalKeyTest : public FlowTestFixture {
 protected:
  std::shared_ptr<grpc::Channel> Channel() {
    return DialTree(callee_address().ToString(), TestTreeToken());
  }

  // Opens `park` traced under `token`, with `context_id`, and returns the
  // StartAck.
  v1::StartAck OpenPark(TypedCall& call, const std::string& token,
                        const std::string& context_id,
                        v1::ActorId* opener = nullptr) {
    v1::Frame start = StartFrame("park", token);
    start.mutable_start()->set_context_id(context_id);
    if (opener != nullptr) *opener = start.start().opener().id();
    EXPECT_TRUE(call.Write(start));
    v1::Frame ack;
    EXPECT_TRUE(call.Read(&ack));
    EXPECT_TRUE(ack.has_start_ack()) << ack.DebugString();
    EXPECT_EQ(ack.start_ack().signal_key().size(), 32u);
    return ack.start_ack();
  }

  // Sends Signal{cancel} about `context_id`, as `sender`, with `key`;
  // whether the callee applied it.
  bool SignalCancel(const std::string& context_id, const v1::ActorId& sender,
                    const std::string& key) {
    auto stub = v1::Actor::NewStub(Channel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kPromptly));
    v1::SignalRequest request;
    request.set_context_id(context_id);
    *request.mutable_sender() = sender;
    request.set_signal_key(key);
    *request.mutable_cancel()->mutable_requester() = sender;
    v1::SignalResponse response;
    const grpc::Status status = stub->Signal(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.applied();
  }

  // Whether the traced function is still running.
  bool StillParked(const std::string& token) {
    absl::StatusOr<Value> record = Probe(token);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() && BoolField(*record, "started") && !Ended(*record);
  }
};

TEST_F(SignalKeyTest, ASignalWithoutTheContextsKeyIsNotApplied) {
  TypedCall call(Channel());
  v1::ActorId opener;
  const v1::StartAck ack = OpenPark(call, "keyed", "keyed-context", &opener);
  ASSERT_TRUE(AwaitProbe(
                  "keyed",
                  [](const Value& r) { return BoolField(r, "started"); },
                  kPromptly)
                  .ok());

  // The id and the opener are the context's; the key is missing or wrong.
  EXPECT_FALSE(SignalCancel("keyed-context", opener, ""));
  EXPECT_FALSE(SignalCancel("keyed-context", opener, std::string(32, '0')));
  std::string near = ack.signal_key();
  near.back() = near.back() == '0' ? '1' : '0';
  EXPECT_FALSE(SignalCancel("keyed-context", opener, near));
  EXPECT_TRUE(StillParked("keyed"));

  // With the key, from the opener, it is taken.
  EXPECT_TRUE(SignalCancel("keyed-context", opener, ack.signal_key()));
  call.Cancel();
  EXPECT_TRUE(AwaitProbe("keyed", Ended, kPromptly).ok());
  call.Finish();
}

TEST_F(SignalKeyTest, TwoOpenersWithOneContextIdKeepTwoContexts) {
  TypedCall first(Channel());
  TypedCall second(Channel());
  v1::ActorId first_opener;
  v1::ActorId second_opener;
  const v1::StartAck first_ack =
      OpenPark(first, "first", "same-id", &first_opener);
  const v1::StartAck second_ack =
      OpenPark(second, "second", "same-id", &second_opener);
  EXPECT_NE(first_ack.signal_key(), second_ack.signal_key());
  ASSERT_TRUE(AwaitProbe(
                  "second",
                  [](const Value& r) { return BoolField(r, "started"); },
                  kPromptly)
                  .ok());

  absl::StatusOr<v1::ActorInfo> info =
      ActorClient::Dial(callee_address(), TestTreeToken()).Info(kPromptly);
  ASSERT_TRUE(info.ok()) << info.status();
  int same = 0;
  for (const v1::ContextInfo& context : info->contexts()) {
    same += context.context_id() == "same-id";
  }
  EXPECT_EQ(same, 2);

  // Each key is taken from its own opener only.
  EXPECT_FALSE(SignalCancel("same-id", first_opener, second_ack.signal_key()));
  EXPECT_FALSE(SignalCancel("same-id", second_opener, first_ack.signal_key()));
  EXPECT_TRUE(SignalCancel("same-id", second_opener, second_ack.signal_key()));
  // Ending the first context leaves the second running.
  first.Cancel();
  EXPECT_TRUE(AwaitProbe("first", Ended, kPromptly).ok());
  EXPECT_TRUE(StillParked("second"));
  second.Cancel();
  EXPECT_TRUE(AwaitProbe("second", Ended, kPromptly).ok());
  EXPECT_TRUE(AwaitCalleeContextGone("same-id", kPromptly).ok());
  first.Finish();
  second.Finish();
}

}  // namespace
}  // namespace tether
