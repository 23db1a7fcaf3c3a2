// Lookups by name across real processes, after tractor's
// tests/discovery/test_registrar.py: siblings that wait for each other by
// name, names shared by several actors (newest first), and stale entries
// (a dead address, an address taken over by another actor, an entry of a
// killed actor registered again), which a lookup skips and removes. Each
// against the root's embedded registrar and an actor_node registrar
// (tests/discovery/discovery_test_fixture.h).

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "runtime/task/wait.h"
#include "tests/discovery/discovery_test_fixture.h"
#include "tether/discovery.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/registrar.pb.h"
#include "tether/value.h"

namespace tether::discovery_test {
namespace {

// How long a child waits for its sibling by name, and to be greeted back.
constexpr absl::Duration kPeerTimeout = absl::Seconds(30);

// --- Functions the children run ---

absl::StatusOr<ActorCore*> Self() {
  ActorCore* self = ActorCore::Current();
  if (self == nullptr) {
    return absl::FailedPreconditionError("runs only in a serving task");
  }
  return self;
}

// Whether a peer has called this process's `hi`. A child that greeted its
// peer stays until it was greeted back: its nursery cancels it (and it
// unregisters) as soon as its function returns, and the peer may not have
// looked it up yet.
class Greeting {
 public:
  void Greeted() {
    absl::MutexLock lock(&mu_);
    greeted_ = true;
    waiters_.NotifyAll();
  }

  absl::Status AwaitGreeted(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    return AwaitLocked(
        mu_, waiters_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return greeted_; },
        deadline);
  }

 private:
  absl::Mutex mu_;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  bool greeted_ ABSL_GUARDED_BY(mu_) = false;
};

Greeting& TheGreeting() {
  static Greeting* const greeting = new Greeting();
  return *greeting;
}

// tractor's `hi`: "Hi my name is <this actor's name>".
absl::StatusOr<Value> Hi(const Value&) {
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
  TheGreeting().Greeted();
  return Value::String(absl::StrCat("Hi my name is ", self->identity().name));
}
TETHER_REGISTER_PLAIN(hi, Hi);

// {"other": NAME}: waits for the actor named NAME by name, returns what its
// `hi` says, once NAME has said hi to this actor too.
absl::StatusOr<Value> SayHelloUseWait(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
  TETHER_ASSIGN_OR_RETURN(Value other_field, args.Field("other"));
  TETHER_ASSIGN_OR_RETURN(std::string other, other_field.AsString());
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Portal> peer,
                          WaitForActor(self, other, kPeerTimeout));
  TETHER_ASSIGN_OR_RETURN(Value answer, peer->Run("hi"));
  TETHER_RETURN_IF_ERROR(
      TheGreeting().AwaitGreeted(absl::Now() + kPeerTimeout));
  return answer;
}
TETHER_REGISTER_PLAIN(say_hello_use_wait, SayHelloUseWait);

// --- Tests ---

// tractor's test_trynamic_trio: two children each wait for the other by
// name and call its `hi`.
TEST_P(BackendTest, TwoChildrenWaitForEachOtherAndSayHi) {
  absl::StatusOr<Value> donny_said = absl::UnknownError("never ran");
  absl::StatusOr<Value> gretchen_said = absl::UnknownError("never ran");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(
            Portal * donny,
            nursery.RunInActor(
                "donny", "say_hello_use_wait",
                Value::Object({{"other", Value::String("gretchen")}}),
                Patient()));
        TETHER_ASSIGN_OR_RETURN(
            Portal * gretchen,
            nursery.RunInActor(
                "gretchen", "say_hello_use_wait",
                Value::Object({{"other", Value::String("donny")}}), Patient()));
        gretchen_said = nursery.WaitResult(gretchen);
        donny_said = nursery.WaitResult(donny);
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << DescribeError(status);
  ASSERT_TRUE(donny_said.ok()) << DescribeError(donny_said.status());
  ASSERT_TRUE(gretchen_said.ok()) << DescribeError(gretchen_said.status());
  EXPECT_EQ(*donny_said, Value::String("Hi my name is gretchen"));
  EXPECT_EQ(*gretchen_said, Value::String("Hi my name is donny"));
}

// Names shared by several actors: a lookup answers with the newest, and
// with the older one once the newer is gone.
TEST_P(BackendTest, DuplicateNamesAreFoundNewestFirst) {
  ActorProcess* older = StartRegisteredNode("twin");
  ASSERT_NE(older, nullptr);
  ActorProcess* newer = StartRegisteredNode("twin");
  ASSERT_NE(newer, nullptr);
  absl::StatusOr<std::string> older_uuid = UuidAt(older->address());
  absl::StatusOr<std::string> newer_uuid = UuidAt(newer->address());
  ASSERT_TRUE(older_uuid.ok() && newer_uuid.ok());
  ASSERT_NE(*older_uuid, *newer_uuid);

  absl::StatusOr<std::vector<v1::RegistryEntry>> twins =
      registry().Find("twin", absl::Now() + kRegistryTimeout);
  ASSERT_TRUE(twins.ok()) << twins.status();
  ASSERT_EQ(twins->size(), 2u) << Describe(*twins);
  EXPECT_EQ((*twins)[0].actor().id().uuid(), *newer_uuid);
  EXPECT_EQ((*twins)[1].actor().id().uuid(), *older_uuid);
  using google::protobuf::util::TimeUtil;
  EXPECT_GE(TimeUtil::TimestampToNanoseconds((*twins)[0].registered_at()),
            TimeUtil::TimestampToNanoseconds((*twins)[1].registered_at()));

  absl::StatusOr<std::unique_ptr<Portal>> found = FindActor(&root(), "twin");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_NE(*found, nullptr);
  EXPECT_EQ(UuidAt((*found)->address()).value_or("?"), *newer_uuid);

  // Once the newer one is gone, the older one is the answer.
  newer->Signal(SIGKILL);
  ASSERT_TRUE(newer->WaitExit(absl::Seconds(5)).ok());
  found = FindActor(&root(), "twin");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_NE(*found, nullptr);
  EXPECT_EQ(UuidAt((*found)->address()).value_or("?"), *older_uuid);
  AwaitGone(*newer_uuid, absl::Now());
}

// An entry whose address refuses connections: FindActor returns none,
// within its timeout, and removes the entry.
TEST_P(BackendTest, EntryAtADeadAddressIsNotFoundAndIsRemoved) {
  RefusingPort dead;
  ASSERT_NE(dead.port(), 0);
  const v1::RegistryEntry ghost = FakeEntry("ghost", dead.address());
  absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
      registry().Hold(ghost, absl::Now() + kRegistryTimeout);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(Registered(ghost.actor().id().uuid()));

  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Portal>> found = FindActor(&root(), "ghost");
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, nullptr)
      << "a portal to " << (*found)->address().ToString();
  EXPECT_LT(took, kLookupTimeout);
  EXPECT_FALSE(Registered(ghost.actor().id().uuid()))
      << "the stale entry is still there: " << Describe(Entries());
  absl::StatusOr<std::vector<std::string>> addresses =
      QueryActor(&root(), "ghost");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_TRUE(addresses->empty());
}

// The newest entry of a name is stale, an older one answers: the lookup
// skips the stale one (removing it) and returns the one that answers.
TEST_P(BackendTest, NewerStaleEntryIsSkippedForTheOneThatAnswers) {
  ActorProcess* worker = StartRegisteredNode("worker");
  ASSERT_NE(worker, nullptr);
  absl::StatusOr<std::string> worker_uuid = UuidAt(worker->address());
  ASSERT_TRUE(worker_uuid.ok()) << worker_uuid.status();
  RefusingPort dead;
  const v1::RegistryEntry stale = FakeEntry("worker", dead.address());
  absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
      registry().Hold(stale, absl::Now() + kRegistryTimeout);
  ASSERT_TRUE(held.ok()) << held.status();
  absl::StatusOr<std::vector<v1::RegistryEntry>> both =
      registry().Find("worker", absl::Now() + kRegistryTimeout);
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u) << Describe(*both);
  ASSERT_EQ(both->front().actor().id().uuid(), stale.actor().id().uuid());

  absl::StatusOr<std::unique_ptr<Portal>> found = FindActor(&root(), "worker");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_NE(*found, nullptr);
  EXPECT_EQ((*found)->address(), worker->address());
  EXPECT_EQ(UuidAt((*found)->address()).value_or("?"), *worker_uuid);
  absl::StatusOr<Value> echo = (*found)->Run("echo", Value::String("alive"));
  ASSERT_TRUE(echo.ok()) << DescribeError(echo.status());
  EXPECT_EQ(*echo, Value::String("alive"));
  EXPECT_FALSE(Registered(stale.actor().id().uuid()));
  EXPECT_TRUE(Registered(*worker_uuid));
}

// An actor answers at the entry's address, but as another actor (the port
// was taken over): the entry is stale.
TEST_P(BackendTest, EntryWhoseAddressAnswersAsAnotherActorIsStale) {
  ActorProcess* other = StartRegisteredNode("other");
  ASSERT_NE(other, nullptr);
  absl::StatusOr<std::string> other_uuid = UuidAt(other->address());
  ASSERT_TRUE(other_uuid.ok()) << other_uuid.status();
  const v1::RegistryEntry impostor =
      FakeEntry("impostor", other->address().ToString());
  absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
      registry().Hold(impostor, absl::Now() + kRegistryTimeout);
  ASSERT_TRUE(held.ok()) << held.status();

  absl::StatusOr<std::unique_ptr<Portal>> found =
      FindActor(&root(), "impostor");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, nullptr)
      << "a portal to " << (*found)->address().ToString();
  EXPECT_FALSE(Registered(impostor.actor().id().uuid()));
  // The actor that really lives there keeps its own entry.
  EXPECT_TRUE(Registered(*other_uuid));
}

// An entry that outlives its actor: the actor was SIGKILLed (its Hold
// ended and took its entry), then its entry was registered again with a
// plain Register, as a client registering on its behalf might. FindActor
// must not hand it out, and removes it.
TEST_P(BackendTest, EntryOfAKilledActorRegisteredAgainIsRemovedByFindActor) {
  ActorProcess* doomed = StartRegisteredNode("doomed");
  ASSERT_NE(doomed, nullptr);
  absl::StatusOr<std::string> uuid = UuidAt(doomed->address());
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  const std::vector<v1::RegistryEntry> entries = Entries();
  const v1::RegistryEntry* held = FindUuid(entries, *uuid);
  ASSERT_NE(held, nullptr) << Describe(entries);
  const absl::Time killed = absl::Now();
  doomed->Signal(SIGKILL);
  absl::StatusOr<int> exit = doomed->WaitExit(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(AwaitGone(*uuid, killed).has_value());

  const grpc::Status registered = RegisterOnce(registry_address(), *held);
  ASSERT_TRUE(registered.ok()) << registered.error_message();
  ASSERT_TRUE(Registered(*uuid)) << Describe(Entries());

  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Portal>> found = FindActor(&root(), "doomed");
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, nullptr)
      << "a portal to " << (*found)->address().ToString();
  EXPECT_LT(took, kLookupTimeout);
  EXPECT_FALSE(Registered(*uuid)) << Describe(Entries());
}

INSTANTIATE_TEST_SUITE_P(Registries, BackendTest, EveryBackend(),
                         BackendTestName);

}  // namespace
}  // namespace tether::discovery_test
