// AcquireDebugLock against a real Debug service (server/debug/debug_service.h)
// over loopback gRPC.

#include "client/debug/debug_lock.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "runtime/base/uuid.h"
#include "runtime/debug/tty_lock.h"
#include "server/call_acceptor.h"
#include "server/debug/debug_service.h"
#include "tether/task.h"

namespace tether {
namespace {

// Each round is one chance for the grant to cross the cancellation.
constexpr int kCancelledRequests = 50;
constexpr absl::Duration kSettle = absl::Seconds(10);

v1::DebugLockRequest RequestFrom(const std::string& name) {
  v1::DebugLockRequest request;
  request.mutable_requester()->set_name(name);
  request.mutable_requester()->set_uuid(NewUuid());
  request.set_pid(4242);
  request.set_task("main");
  request.set_reason(v1::DebugLockRequest::REASON_POST_MORTEM);
  return request;
}

class DebugLockTest : public testing::Test {
 protected:
  void SetUp() override {
    v1::ActorId root;
    root.set_name("root");
    root.set_uuid(NewUuid());
    service_ = std::make_unique<DebugService>(&lock_, root);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    std::unique_ptr<grpc::ServerCompletionQueue> queue =
        builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    acceptor_ = std::make_unique<CallAcceptor>(
        nullptr, std::vector<ServedOnQueue*>{service_.get()}, nullptr,
        std::move(queue));
    acceptor_->Start();
    address_ = std::make_unique<Address>(
        *Address::Parse(absl::StrCat("127.0.0.1:", port)));
  }

  void TearDown() override {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    server_->Wait();
    acceptor_->Stop();
  }

  // Polls the lock until nobody holds or waits for it.
  bool AwaitIdle() {
    const absl::Time deadline = absl::Now() + kSettle;
    while (absl::Now() < deadline) {
      const v1::DebugStatus status = lock_.Status();
      if (!status.has_holder() && status.waiters_size() == 0) return true;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }

  TtyLock lock_;
  std::unique_ptr<DebugService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CallAcceptor> acceptor_;
  std::unique_ptr<Address> address_;
};

// A task cancelled while its request is pending withdraws it; when the
// root granted the lock meanwhile (a free lock is granted at once), the
// grant is released. Either way the actor is not blocked: it did not lose
// its channel to the root.
TEST_F(DebugLockTest, CancelledRequestIsWithdrawnWithoutBlockingTheActor) {
  const v1::DebugLockRequest request = RequestFrom("prompting");
  for (int i = 0; i < kCancelledRequests; ++i) {
    CancelScope scope;
    scope.Cancel(absl::CancelledError("the prompt's task was cancelled"));
    const absl::StatusOr<std::unique_ptr<DebugLockHold>> hold =
        AcquireDebugLock(*address_, request);
    EXPECT_TRUE(absl::IsCancelled(hold.status())) << hold.status();
    ASSERT_TRUE(AwaitIdle()) << lock_.Status().DebugString();
    ASSERT_EQ(lock_.Status().blocked_size(), 0)
        << "round " << i << ": " << lock_.Status().DebugString();
  }
  // And the actor may take the lock afterwards.
  absl::StatusOr<std::unique_ptr<DebugLockHold>> hold =
      AcquireDebugLock(*address_, request);
  ASSERT_TRUE(hold.ok()) << hold.status();
  (*hold)->Release();
  EXPECT_TRUE(AwaitIdle());
}

}  // namespace
}  // namespace tether
