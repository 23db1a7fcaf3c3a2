#include "client/actor_client.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/actor_server.h"

namespace tether {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);

TEST(ActorClientTest, InfoAndCancelRoundTrip) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create("target");
  ASSERT_TRUE(identity.ok());
  absl::Notification cancelled;
  ActorCore runtime(*identity);
  runtime.SetDebugMode(true);
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"),
      [&](const v1::ActorId&) { cancelled.Notify(); }, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  const ActorClient client =
      ActorClient::Dial((*server)->address(), runtime.token());

  absl::StatusOr<v1::ActorInfo> info = client.Info(kTimeout);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->id().uuid(), identity->uuid);
  EXPECT_TRUE(info->debug_mode());
  // Named no registry, so it hosts the registrar and registers there.
  ASSERT_EQ(info->registry_addresses_size(), 1);
  EXPECT_EQ(info->registry_addresses(0), (*server)->address().ToString());

  v1::ActorId me;
  me.set_name("test");
  absl::StatusOr<v1::ActorId> accepted = client.CancelActor(me, kTimeout);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->uuid(), identity->uuid);
  EXPECT_TRUE(cancelled.WaitForNotificationWithTimeout(kTimeout));
}

TEST(ActorClientTest, NobodyListeningIsUnavailable) {
  ActorCore runtime(*ActorIdentity::Create("gone"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"), [](auto&) {}, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  const Address address = (*server)->address();
  server->reset();  // Frees the port; nothing listens there now.

  absl::StatusOr<v1::ActorInfo> info =
      ActorClient::Dial(address, runtime.token()).Info(kTimeout);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnavailable)
      << info.status();
}

}  // namespace
}  // namespace tether
