#include "runtime/debug/tty_lock.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tether {
namespace {

v1::DebugLockRequest RequestFrom(const std::string& name) {
  v1::DebugLockRequest request;
  request.mutable_requester()->set_name(name);
  request.mutable_requester()->set_uuid(name + "-uuid");
  request.set_task("main");
  return request;
}

TEST(TtyLockTest, GrantsAtOnceWhenFree) {
  TtyLock lock;
  int granted = -1;
  absl::StatusOr<uint64_t> ticket = lock.Request(
      RequestFrom("a"), [&](uint32_t behind) { granted = behind; });
  ASSERT_TRUE(ticket.ok());
  EXPECT_EQ(granted, 0);
  ASSERT_TRUE(lock.holder().has_value());
  EXPECT_EQ(lock.holder()->requester().name(), "a");
}

TEST(TtyLockTest, WaitersAreGrantedFirstInFirstOut) {
  TtyLock lock;
  std::vector<std::string> order;
  auto record = [&order](std::string name) {
    return [&order, name](uint32_t) { order.push_back(name); };
  };
  const uint64_t a = *lock.Request(RequestFrom("a"), record("a"));
  const uint64_t b = *lock.Request(RequestFrom("b"), record("b"));
  const uint64_t c = *lock.Request(RequestFrom("c"), record("c"));
  EXPECT_EQ(order, std::vector<std::string>({"a"}));
  EXPECT_EQ(lock.Status().waiters_size(), 2);
  lock.Release(a);
  EXPECT_EQ(order, std::vector<std::string>({"a", "b"}));
  lock.Release(b);
  EXPECT_EQ(order, std::vector<std::string>({"a", "b", "c"}));
  lock.Release(c);
  EXPECT_FALSE(lock.holder().has_value());
}

TEST(TtyLockTest, WaitedBehindCountsGrantsWhileQueued) {
  TtyLock lock;
  uint32_t c_behind = 99;
  const uint64_t a = *lock.Request(RequestFrom("a"), [](uint32_t) {});
  const uint64_t b = *lock.Request(RequestFrom("b"), [](uint32_t) {});
  *lock.Request(RequestFrom("c"), [&](uint32_t behind) { c_behind = behind; });
  lock.Release(a);
  lock.Release(b);
  EXPECT_EQ(c_behind, 2u);
}

TEST(TtyLockTest, AWithdrawingWaiterIsNeverGranted) {
  TtyLock lock;
  bool b_granted = false;
  bool c_granted = false;
  const uint64_t a = *lock.Request(RequestFrom("a"), [](uint32_t) {});
  const uint64_t b =
      *lock.Request(RequestFrom("b"), [&](uint32_t) { b_granted = true; });
  *lock.Request(RequestFrom("c"), [&](uint32_t) { c_granted = true; });
  lock.Abandon(b);  // a waiter's channel broke: it only withdraws
  lock.Release(a);
  EXPECT_FALSE(b_granted);
  EXPECT_TRUE(c_granted);
  EXPECT_EQ(lock.Status().blocked_size(), 0);
}

TEST(TtyLockTest, AnAbandonedHolderIsBlockedAndTheNextWaiterGranted) {
  TtyLock lock;
  bool b_granted = false;
  const uint64_t a = *lock.Request(RequestFrom("a"), [](uint32_t) {});
  *lock.Request(RequestFrom("b"), [&](uint32_t) { b_granted = true; });
  lock.Abandon(a);
  EXPECT_TRUE(b_granted);
  const v1::DebugStatus status = lock.Status();
  ASSERT_EQ(status.blocked_size(), 1);
  EXPECT_EQ(status.blocked(0).uuid(), "a-uuid");
  absl::StatusOr<uint64_t> again = lock.Request(RequestFrom("a"), nullptr);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("a-uuid"), std::string::npos);
}

// The blocked list is bounded: past kMaxBlocked the actor blocked longest
// ago is forgotten and may ask again.
TEST(TtyLockTest, TheBlockedListKeepsTheLatestActors) {
  TtyLock lock;
  for (size_t i = 0; i <= TtyLock::kMaxBlocked; ++i) {
    lock.Abandon(
        *lock.Request(RequestFrom("r" + std::to_string(i)), [](uint32_t) {}));
  }
  EXPECT_EQ(lock.Status().blocked_size(),
            static_cast<int>(TtyLock::kMaxBlocked));
  EXPECT_TRUE(lock.Request(RequestFrom("r0"), [](uint32_t) {}).ok());
  const std::string last = "r" + std::to_string(TtyLock::kMaxBlocked);
  EXPECT_EQ(lock.Request(RequestFrom(last), nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tether
