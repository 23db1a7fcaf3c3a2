// Registration while an actor lives, after tractor's
// tests/discovery/test_registrar.py: a nursery child is registered until
// it is cancelled; an actor_node leaves the registry when it is SIGTERMed
// (it unregisters) or SIGKILLed (its Hold breaks); an entry replaced by a
// plain Register outlives the Hold it replaced. Each against the root's
// embedded registrar and an actor_node registrar
// (tests/discovery/discovery_test_fixture.h).

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/discovery/discovery_test_fixture.h"
#include "tests/support/test_token.h"
#include "tether/discovery.h"
#include "tether/errors.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/v1/actor.pb.h"
#include "tether/v1/registrar.pb.h"

namespace tether::discovery_test {
namespace {

// tractor's test_reg_then_unreg: the child's uuid is in the registry with
// its addresses while it runs, and leaves it when its nursery cancels it.
TEST_P(BackendTest, ChildIsRegisteredUntilItsNurseryCancelsIt) {
  std::string uuid;
  absl::Time cancelled_at;
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * child,
                                nursery.StartActor("registered", Patient()));
        TETHER_ASSIGN_OR_RETURN(
            v1::ActorInfo info,
            ActorClient::Dial(child->address(), TestTreeToken())
                .Info(absl::Seconds(10)));
        uuid = info.id().uuid();
        TETHER_ASSIGN_OR_RETURN(std::vector<v1::RegistryEntry> entries,
                                GetRegistry(&root()));
        const v1::RegistryEntry* entry = FindUuid(entries, uuid);
        EXPECT_NE(entry, nullptr) << "not in " << Describe(entries);
        if (entry != nullptr) {
          EXPECT_EQ(entry->actor().id().name(), "registered");
          EXPECT_FALSE(entry->actor().addresses().empty());
          EXPECT_TRUE(std::count(entry->actor().addresses().begin(),
                                 entry->actor().addresses().end(),
                                 child->address().ToString()) == 1)
              << Describe({*entry}) << " lacks " << child->address().ToString();
          EXPECT_EQ(entry->pid(), info.pid());
          EXPECT_EQ(entry->parent().uuid(), root().id().uuid());
          EXPECT_TRUE(entry->has_registered_at());
        }
        // The root itself is registered too (tractor: only self at first).
        EXPECT_NE(FindUuid(entries, root().id().uuid()), nullptr);
        // A lookup by name from the root gives the same addresses.
        TETHER_ASSIGN_OR_RETURN(std::vector<std::string> addresses,
                                QueryActor(&root(), "registered"));
        EXPECT_EQ(addresses,
                  std::vector<std::string>{child->address().ToString()});
        cancelled_at = absl::Now();
        nursery.CancelAll();
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << DescribeError(status);
  ASSERT_FALSE(uuid.empty());
  const std::optional<absl::Duration> gone = AwaitGone(uuid, cancelled_at);
  if (gone.has_value()) {
    RecordProperty("gone_after_cancel_ms",
                   static_cast<int>(absl::ToInt64Milliseconds(*gone)));
  }
  // The root's own entry stays as long as the root serves.
  EXPECT_TRUE(Registered(root().id().uuid()));
}

// An actor_node SIGKILLed (no chance to unregister) leaves the registry on
// its own: its Hold call breaks with its connection.
TEST_P(BackendTest, SigkilledNodeDropsOutOfTheRegistry) {
  ActorProcess* victim = StartRegisteredNode("victim");
  ASSERT_NE(victim, nullptr);
  absl::StatusOr<std::string> uuid = UuidAt(victim->address());
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  ASSERT_TRUE(Registered(*uuid)) << Describe(Entries());

  const absl::Time killed = absl::Now();
  victim->Signal(SIGKILL);
  absl::StatusOr<int> exit = victim->WaitExit(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFSIGNALED(*exit) && WTERMSIG(*exit) == SIGKILL);
  const std::optional<absl::Duration> gone = AwaitGone(*uuid, killed);
  if (gone.has_value()) {
    RecordProperty("gone_after_sigkill_ms",
                   static_cast<int>(absl::ToInt64Milliseconds(*gone)));
  }
}

// An actor_node stopped by SIGTERM unregisters itself on the way out.
TEST_P(BackendTest, SigtermedNodeUnregistersBeforeItExits) {
  ActorProcess* leaver = StartRegisteredNode("leaver");
  ASSERT_NE(leaver, nullptr);
  absl::StatusOr<std::string> uuid = UuidAt(leaver->address());
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  ASSERT_TRUE(Registered(*uuid));

  leaver->Signal(SIGTERM);
  absl::StatusOr<int> exit = leaver->WaitExit(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;
  // Unregistering is the first step of its shutdown, and waits for the
  // registry's answer: the entry is gone by the time the process is.
  EXPECT_FALSE(Registered(*uuid)) << Describe(Entries());
}

// A live actor's entry replaced by a plain Register (same uuid) belongs to
// that Register from then on: when the actor's Hold ends (SIGKILL), the
// registry must keep the replacement, which a lookup then finds stale.
TEST_P(BackendTest, EntryReplacedByRegisterOutlivesTheHoldItReplaced) {
  ActorProcess* doomed = StartRegisteredNode("replaced");
  ASSERT_NE(doomed, nullptr);
  absl::StatusOr<std::string> uuid = UuidAt(doomed->address());
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  std::vector<v1::RegistryEntry> entries = Entries();
  const v1::RegistryEntry* found_held = FindUuid(entries, *uuid);
  ASSERT_NE(found_held, nullptr) << Describe(entries);
  const v1::RegistryEntry held = *found_held;
  const grpc::Status registered = RegisterOnce(registry_address(), held);
  ASSERT_TRUE(registered.ok()) << registered.error_message();
  entries = Entries();
  const v1::RegistryEntry* replacement = FindUuid(entries, *uuid);
  ASSERT_NE(replacement, nullptr) << Describe(entries);
  using google::protobuf::util::TimeUtil;
  EXPECT_GT(TimeUtil::TimestampToNanoseconds(replacement->registered_at()),
            TimeUtil::TimestampToNanoseconds(held.registered_at()));

  doomed->Signal(SIGKILL);
  absl::StatusOr<int> exit = doomed->WaitExit(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status();
  // The Hold's end reaches the registry some time after the process is
  // gone; give it the time it would take to (wrongly) remove the entry.
  const bool removed = PollUntil(absl::Now() + absl::Seconds(2),
                                 [&] { return !Registered(*uuid); });
  EXPECT_FALSE(removed) << "the ending Hold removed the entry that replaced "
                           "it";
  absl::StatusOr<std::unique_ptr<Portal>> found =
      FindActor(&root(), "replaced");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, nullptr);
  EXPECT_FALSE(Registered(*uuid)) << Describe(Entries());
}

INSTANTIATE_TEST_SUITE_P(Registries, BackendTest, EveryBackend(),
                         BackendTestName);

}  // namespace
}  // namespace tether::discovery_test
