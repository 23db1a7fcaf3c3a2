// AcquireDebugLock against a real Debug service (server/debug/debug_service.h)
// over loopback gRPC.

#include "client/debug/debug_lock.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/base/uuid.h"
#include "server/debug/served_debug_lock.h"
#include "testing/poll_until.h"
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
    ASSERT_TRUE(served_.status().ok()) << served_.status();
  }

  // Polls the lock until nobody holds or waits for it.
  bool AwaitIdle() {
    return PollUntil(absl::Now() + kSettle, [this] {
      const v1::DebugStatus status = served_.lock().Status();
      return !status.has_holder() && status.waiters_size() == 0;
    });
  }

  ServedDebugLock served_;
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
        AcquireDebugLock(served_.address(), request, served_.token());
    EXPECT_TRUE(absl::IsCancelled(hold.status())) << hold.status();
    ASSERT_TRUE(AwaitIdle()) << served_.lock().Status().DebugString();
    ASSERT_EQ(served_.lock().Status().blocked_size(), 0)
        << "round " << i << ": " << served_.lock().Status().DebugString();
  }
  // And the actor may take the lock afterwards.
  absl::StatusOr<std::unique_ptr<DebugLockHold>> hold =
      AcquireDebugLock(served_.address(), request, served_.token());
  ASSERT_TRUE(hold.ok()) << hold.status();
  (*hold)->Release();
  EXPECT_TRUE(AwaitIdle());
}

}  // namespace
}  // namespace tether
