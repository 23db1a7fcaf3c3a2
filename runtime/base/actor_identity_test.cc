#include "runtime/base/actor_identity.h"

#include <unistd.h>

#include "gtest/gtest.h"
#include "runtime/base/uuid.h"

namespace tether {
namespace {

TEST(ActorIdentityTest, CreateFillsEveryField) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create("worker-1");
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->name, "worker-1");
  EXPECT_TRUE(IsUuid(identity->uuid));
  EXPECT_EQ(identity->pid, getpid());
  EXPECT_GT(identity->started_at, absl::UnixEpoch());
  const v1::ActorId wire = identity->ToProto();
  EXPECT_EQ(wire.name(), "worker-1");
  EXPECT_EQ(wire.uuid(), identity->uuid);
}

TEST(ActorIdentityTest, EachIdentityHasItsOwnUuid) {
  EXPECT_NE(ActorIdentity::Create("a")->uuid, ActorIdentity::Create("a")->uuid);
}

TEST(ActorIdentityTest, RejectsBadNames) {
  EXPECT_FALSE(ValidateActorName("").ok());
  EXPECT_FALSE(ValidateActorName("two words").ok());
  EXPECT_FALSE(ValidateActorName("slash/name").ok());
  EXPECT_FALSE(ValidateActorName(std::string(101, 'a')).ok());
  EXPECT_TRUE(ValidateActorName(std::string(100, 'a')).ok());
  EXPECT_TRUE(ValidateActorName("A.b_c-9").ok());
  EXPECT_FALSE(ActorIdentity::Create("no spaces").ok());
}

}  // namespace
}  // namespace tether
