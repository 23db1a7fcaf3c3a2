// RegistrarService over real loopback gRPC, against a misbehaving client.

#include "server/registrar/registrar_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "rpc/tree_channel.h"
#include "runtime/base/tree_token.h"
#include "server/call_acceptor.h"

namespace tether {
namespace {

// How many refused holds are cancelled in a row: each is one chance for
// the client's cancel to reach the registrar before the refusal's status.
constexpr int kCancelledRefusals = 300;
// The test registrar's capacity, in entries.
constexpr size_t kCapacity = 2;

// Reads a Hold's stream until it ends; remembers how it ended.
class HoldCall final : public grpc::ClientReadReactor<v1::HoldResponse> {
 public:
  HoldCall(v1::Registrar::Stub& stub, const v1::RegisterRequest& request) {
    stub.async()->Hold(&context_, &request, this);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  // The call's status; false if it did not end within `timeout`.
  bool AwaitDone(absl::Duration timeout, grpc::Status* status) {
    if (!done_.WaitForNotificationWithTimeout(timeout)) return false;
    *status = status_;
    return true;
  }

  void OnReadDone(bool ok) override {
    if (ok) StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }

 private:
  grpc::ClientContext context_;
  v1::HoldResponse response_;
  grpc::Status status_;
  absl::Notification done_;
};

class RegistrarServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&registrar_);
    std::unique_ptr<grpc::ServerCompletionQueue> queue =
        builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    acceptor_ = std::make_unique<CallAcceptor>(
        nullptr, std::vector<ServedOnQueue*>{&registrar_}, nullptr,
        std::move(queue), token_);
    acceptor_->Start();
    target_ = "127.0.0.1:" + std::to_string(port);
    stub_ = v1::Registrar::NewStub(DialTree(target_, token_));
  }

  void TearDown() override {
    registrar_.Close();
    server_->Shutdown();
    acceptor_->Stop();
  }

  // A registered entry of `name`, with a fresh uuid.
  v1::RegisterRequest Request(const std::string& name) {
    v1::RegisterRequest request;
    v1::ActorRef* actor = request.mutable_entry()->mutable_actor();
    actor->mutable_id()->set_name(name);
    actor->mutable_id()->set_uuid("uuid-" + std::to_string(++next_uuid_));
    actor->add_addresses("127.0.0.1:1");
    return request;
  }

  grpc::Status Register(const v1::RegisterRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RegisterResponse response;
    return stub_->Register(&context, request, &response);
  }

  // How a Hold of `request` ended, which must be at once (a refusal).
  grpc::Status RefusedHold(const v1::RegisterRequest& request) {
    HoldCall call(*stub_, request);
    grpc::Status status;
    EXPECT_TRUE(call.AwaitDone(absl::Seconds(10), &status))
        << "the hold was not refused";
    if (status.ok()) call.Cancel();
    return status;
  }

  int Listed() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ListResponse listed;
    EXPECT_TRUE(stub_->List(&context, v1::ListRequest(), &listed).ok());
    return listed.entries_size();
  }

  int next_uuid_ = 0;
  const TreeToken token_ = TreeToken::Generate();
  RegistrarService registrar_{kCapacity};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CallAcceptor> acceptor_;
  std::string target_;
  std::unique_ptr<v1::Registrar::Stub> stub_;
};

// A refused Hold (its entry names no actor) that the client cancels at
// once: the registrar's refusal and the cancel race, and the registrar
// must end the call once, not finish it a second time on the cancel
// (which aborted the process).
TEST_F(RegistrarServiceTest, CancelledRefusedHoldsLeaveTheRegistrarServing) {
  const v1::RegisterRequest invalid;
  for (int i = 0; i < kCancelledRefusals; ++i) {
    HoldCall call(*stub_, invalid);
    call.Cancel();
    grpc::Status status;
    ASSERT_TRUE(call.AwaitDone(absl::Seconds(10), &status)) << "hold " << i;
    EXPECT_TRUE(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                status.error_code() == grpc::StatusCode::CANCELLED)
        << status.error_message();
  }
  EXPECT_EQ(Listed(), 0);
}

// A peer cannot make the registrar hold megabytes per entry.
TEST_F(RegistrarServiceTest, AnEntryAbove4KBIsRefused) {
  v1::RegisterRequest large = Request("large");
  large.mutable_entry()->mutable_actor()->mutable_id()->set_name(
      std::string(5000, 'n'));
  for (const grpc::Status& status : {Register(large), RefusedHold(large)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("exceeds the limit of 4096"),
              std::string::npos)
        << status.error_message();
  }
  EXPECT_EQ(Listed(), 0);
}

// Nor hold entries without end: a full registry refuses new uuids, by
// Register and by Hold, and still serves.
TEST_F(RegistrarServiceTest, AFullRegistryRefusesNewEntries) {
  for (size_t i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(Register(Request("worker")).ok());
  }
  const v1::RegisterRequest another = Request("worker");
  for (const grpc::Status& status : {Register(another), RefusedHold(another)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(status.error_message(), "the registry is full (2 entries)");
  }
  EXPECT_EQ(Listed(), 2);
}

// A caller without the tree's token (none, or another tree's) can neither
// register, hold, find, list nor wait; the registry stays empty.
TEST_F(RegistrarServiceTest, CallsWithoutTheTreeTokenAreRefused) {
  std::vector<std::unique_ptr<v1::Registrar::Stub>> outsiders;
  outsiders.push_back(v1::Registrar::NewStub(
      grpc::CreateChannel(target_, grpc::InsecureChannelCredentials())));
  outsiders.push_back(
      v1::Registrar::NewStub(DialTree(target_, TreeToken::Generate())));
  for (std::unique_ptr<v1::Registrar::Stub>& outsider : outsiders) {
    const v1::RegisterRequest request = Request("intruder");
    std::vector<grpc::Status> statuses;
    {
      grpc::ClientContext context;
      v1::RegisterResponse response;
      statuses.push_back(outsider->Register(&context, request, &response));
    }
    {
      grpc::ClientContext context;
      v1::FindRequest find;
      find.set_name("intruder");
      v1::FindResponse response;
      statuses.push_back(outsider->Find(&context, find, &response));
    }
    {
      grpc::ClientContext context;
      v1::ListResponse response;
      statuses.push_back(
          outsider->List(&context, v1::ListRequest(), &response));
    }
    {
      grpc::ClientContext context;
      v1::WaitRequest wait;
      wait.set_name("intruder");
      v1::FindResponse response;
      statuses.push_back(outsider->Wait(&context, wait, &response));
    }
    HoldCall hold(*outsider, request);
    grpc::Status held;
    ASSERT_TRUE(hold.AwaitDone(absl::Seconds(10), &held));
    statuses.push_back(held);
    for (const grpc::Status& status : statuses) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << status.error_message();
    }
  }
  EXPECT_EQ(Listed(), 0);
}

}  // namespace
}  // namespace tether
