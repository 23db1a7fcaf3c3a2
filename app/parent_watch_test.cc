#include "app/parent_watch.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/actor_server.h"

namespace tether {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(20);

ParentWatch::Options Fast() {
  ParentWatch::Options options;
  options.interval = absl::Milliseconds(20);
  options.probe_deadline = absl::Seconds(1);
  options.misses = 2;
  return options;
}

TEST(ParentWatchTest, ReportsAParentThatStoppedServing) {
  ActorCore parent(*ActorIdentity::Create("parent"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &parent, *Address::Parse("127.0.0.1:0"), [](const auto&) {}, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::Notification lost;
  ParentWatch watch(
      parent.ref(), parent.token(), [&] { lost.Notify(); }, Fast());
  // While the parent serves, probes succeed: no loss over many intervals.
  EXPECT_FALSE(lost.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  (*server)->Shutdown(absl::ZeroDuration());
  EXPECT_TRUE(lost.WaitForNotificationWithTimeout(kDeadline));
}

TEST(ParentWatchTest, WatchesNothingWithoutAnAddress) {
  absl::Notification lost;
  {
    ParentWatch watch(
        v1::ActorRef(), TreeToken::Generate(), [&] { lost.Notify(); }, Fast());
  }
  EXPECT_FALSE(lost.HasBeenNotified());
}

}  // namespace
}  // namespace tether
