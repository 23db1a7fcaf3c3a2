// Discovery across real processes, after tractor's
// tests/discovery/test_registrar.py: registration while an actor lives,
// lookups by name between siblings, stale entries, unreachable
// registries, actors that die without unregistering, and names shared by
// several actors.
//
// The test binary is the root actor (a runtime and a server per test) and
// every nursery child is this binary re-executed in child mode; main()
// calls RunAsChildIfSpawned first, so the functions the children run are
// registered below. Standalone actors are actor_node processes.
//
// The registry is a parameter of most tests (RegistryBackend): the
// registrar the test's own root actor embeds, or a separate actor_node
// acting as the registry of the tree. Another backend (etcd) fits in as
// one more case of StartRegistry().
//
// The test process is a child subreaper; every test ends with no
// descendant left, and a hang guard kills them all if a test hangs.

#include "client/discovery.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "client/nursery.h"
#include "client/portal.h"
#include "client/registry.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "runtime/actor_identity.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "runtime/errors.h"
#include "runtime/function_registry.h"
#include "runtime/status_macros.h"
#include "runtime/task.h"
#include "runtime/uuid.h"
#include "runtime/value.h"
#include "server/actor_server.h"
#include "server/child_main.h"
#include "tests/actor_process.h"
#include "tests/hang_guard.h"
#include "tests/process_tree.h"
#include "tether/v1/registrar.grpc.pb.h"
#include "tether/v1/registrar.pb.h"

namespace tether {
namespace {

// A whole test, hung or not; far above what a healthy run needs.
constexpr absl::Duration kTestLimit = absl::Seconds(120);
// Booting actors (several processes on 2 cores, under ASan too).
constexpr absl::Duration kBootTimeout = absl::Seconds(30);
// How long a child waits for its sibling by name, and to be greeted back.
constexpr absl::Duration kPeerTimeout = absl::Seconds(30);
// An entry of an actor that is gone (unregistered, killed, or found stale)
// must leave the registry within this.
constexpr absl::Duration kGoneTimeout = absl::Seconds(5);
// How long the test waits for something to appear in the registry.
constexpr absl::Duration kRegistryTimeout = absl::Seconds(5);
// Every descendant must be gone this long after a test body.
constexpr absl::Duration kReapTimeout = absl::Seconds(15);
// Between two looks at the registry or /proc; deadlines bound the waits.
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// Lookups against an unreachable registry must fail within their own
// timeout; this much longer covers a slow machine, no more.
constexpr absl::Duration kTimeoutSlack = absl::Milliseconds(500);

// --- Functions the children run ---

absl::StatusOr<ActorRuntime*> Self() {
  ActorRuntime* self = ActorRuntime::Current();
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
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TheGreeting().Greeted();
  return Value::String(absl::StrCat("Hi my name is ", self->identity().name));
}
TETHER_REGISTER_PLAIN(hi, Hi);

// {"other": NAME}: waits for the actor named NAME by name, returns what its
// `hi` says, once NAME has said hi to this actor too.
absl::StatusOr<Value> SayHelloUseWait(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
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

// --- Helpers ---

std::string CurrentTestName() {
  const testing::TestInfo* info =
      testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr
             ? "a discovery test"
             : absl::StrCat(info->test_suite_name(), ".", info->name());
}

// Spawning processes on a 2-core machine (under ASan, several test runs at
// once) is slow; boot time is not what these tests measure.
ActorOptions Patient() {
  ActorOptions options;
  options.spawn_timeout = kBootTimeout;
  return options;
}

// Checks `condition` every kPollInterval until it holds or `deadline`
// passes; returns whether it held.
bool PollUntil(absl::Time deadline, const std::function<bool()>& condition) {
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPollInterval);
  }
  return true;
}

const v1::RegistryEntry* FindUuid(const std::vector<v1::RegistryEntry>& entries,
                                  const std::string& uuid) {
  for (const v1::RegistryEntry& entry : entries) {
    if (entry.actor().id().uuid() == uuid) return &entry;
  }
  return nullptr;
}

std::string Describe(const std::vector<v1::RegistryEntry>& entries) {
  return absl::StrJoin(
      entries, ", ", [](std::string* out, const v1::RegistryEntry& entry) {
        absl::StrAppend(out, entry.actor().id().name(), "[",
                        entry.actor().id().uuid(), "] at ",
                        absl::StrJoin(entry.actor().addresses(), ","));
      });
}

// The uuid of the actor that answers at `address`.
absl::StatusOr<std::string> UuidAt(const Address& address) {
  TETHER_ASSIGN_OR_RETURN(v1::ActorInfo info,
                          ActorClient::Dial(address).Info(absl::Seconds(10)));
  return info.id().uuid();
}

// A loopback TCP port that is bound but never listens: every connection to
// it is refused at once, and no other socket can take the port while this
// object lives.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (fd_ >= 0 &&
        bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  ~RefusingPort() {
    if (fd_ >= 0) close(fd_);
  }

  // "127.0.0.1:PORT"; the port is 0 if the socket could not be bound.
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

  // Listens without ever accepting: the kernel completes connections into
  // the backlog, so a client connects and then hears nothing.
  bool Listen() { return listen(fd_, 16) == 0; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// An entry for an actor named `name` with a fresh uuid at `address`.
v1::RegistryEntry FakeEntry(const std::string& name,
                            const std::string& address) {
  v1::RegistryEntry entry;
  entry.mutable_actor()->mutable_id()->set_name(name);
  entry.mutable_actor()->mutable_id()->set_uuid(NewUuid());
  entry.mutable_actor()->add_addresses(address);
  return entry;
}

// --- The fixture ---

enum class RegistryBackend {
  // The registrar the test's root actor embeds (it names no registry).
  kThisProcess,
  // A separate actor_node that names no registry, so it hosts one; the
  // test's root actor and everything it starts register there.
  kActorNode,
};

std::string BackendName(RegistryBackend backend) {
  switch (backend) {
    case RegistryBackend::kThisProcess:
      return "EmbeddedInRoot";
    case RegistryBackend::kActorNode:
      return "ActorNodeRegistrar";
  }
  return "Unknown";
}

class DiscoveryTest : public testing::Test {
 protected:
  virtual RegistryBackend backend() const {
    return RegistryBackend::kThisProcess;
  }

  void SetUp() override {
    guard_ = std::make_unique<HangGuard>(kTestLimit, CurrentTestName());
    ASSERT_TRUE(BecomeSubreaper().ok());
    ReapAdoptedZombies();
    const std::vector<ProcessEntry> before = ListDescendants(getpid());
    ASSERT_TRUE(before.empty()) << "processes left from before this test:\n"
                                << DescribeProcesses(before);
    absl::StatusOr<ActorIdentity> identity =
        ActorIdentity::Create("discovery-root");
    ASSERT_TRUE(identity.ok()) << identity.status();
    root_ = std::make_unique<ActorRuntime>(*std::move(identity));
    if (backend() == RegistryBackend::kActorNode) {
      absl::StatusOr<std::unique_ptr<ActorProcess>> registrar =
          StartNode({"--name=registrar"});
      ASSERT_TRUE(registrar.ok()) << registrar.status();
      registrar_node_ = *std::move(registrar);
      root_->SetRegistryAddresses({registrar_node_->address().ToString()});
    }
    absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
        root_.get(), *Address::Parse("127.0.0.1:0"), [](const v1::ActorId&) {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_EQ(root_->registry_addresses().size(), 1u);
    registry_address_ = root_->registry_addresses().front();
    absl::StatusOr<std::unique_ptr<Registry>> registry =
        ConnectRegistry(registry_address_);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
  }

  void TearDown() override {
    nodes_.clear();
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    registrar_node_.reset();
    ExpectNoProcessLeft();
    registry_.reset();
    root_.reset();
    guard_.reset();
  }

  ActorRuntime& root() { return *root_; }
  const std::string& registry_address() const { return registry_address_; }
  Registry& registry() { return *registry_; }

  // Starts an actor_node with `args`; it is killed when the test ends.
  absl::StatusOr<std::unique_ptr<ActorProcess>> StartNode(
      std::vector<std::string> args) {
    return ActorProcess::Start(RunfilePath("server/actor_node"),
                               std::move(args), kBootTimeout);
  }

  // An actor_node named `name` registered with this test's registry (its
  // listening line comes after the registry confirmed it). Owned by the
  // fixture; null, with the failure recorded, if it does not start.
  ActorProcess* StartRegisteredNode(const std::string& name) {
    absl::StatusOr<std::unique_ptr<ActorProcess>> node =
        StartNode({"--name=" + name, "--registry=" + registry_address()});
    EXPECT_TRUE(node.ok()) << node.status();
    if (!node.ok()) return nullptr;
    nodes_.push_back(*std::move(node));
    return nodes_.back().get();
  }

  // Every entry of the registry; an unreachable registry fails the test.
  std::vector<v1::RegistryEntry> Entries() {
    absl::StatusOr<std::vector<v1::RegistryEntry>> entries =
        registry().List(absl::Now() + kRegistryTimeout);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *std::move(entries)
                        : std::vector<v1::RegistryEntry>();
  }

  bool Registered(const std::string& uuid) {
    return FindUuid(Entries(), uuid) != nullptr;
  }

  // Waits until the entry of `uuid` is gone; returns how long that took
  // from `since`, or nullopt (with the failure recorded) at the deadline.
  std::optional<absl::Duration> AwaitGone(const std::string& uuid,
                                          absl::Time since) {
    if (PollUntil(since + kGoneTimeout, [&] { return !Registered(uuid); })) {
      return absl::Now() - since;
    }
    ADD_FAILURE() << uuid << " still registered " << kGoneTimeout
                  << " later: " << Describe(Entries());
    return std::nullopt;
  }

  // ActorNursery::Open under a watchdog that cancels the opening task after
  // `limit`: a nursery that never ends fails the test instead of hanging.
  absl::Status OpenNursery(const ActorNursery::Block& block,
                           absl::Duration limit = absl::Seconds(90)) {
    CancelScope scope;
    const CancelHandle handle = scope.handle();
    absl::Notification done;
    std::thread watchdog([&done, handle, limit] {
      if (!done.WaitForNotificationWithTimeout(limit)) {
        handle.Cancel(absl::DeadlineExceededError(
            absl::StrCat("watchdog: the nursery still ran after ",
                         absl::FormatDuration(limit))));
      }
    });
    const absl::Status status = ActorNursery::Open(root_.get(), block);
    done.Notify();
    watchdog.join();
    return status;
  }

 private:
  // Nothing this test started outlives it: what is left is a failure, and
  // is killed.
  void ExpectNoProcessLeft() {
    std::vector<ProcessEntry> left;
    PollUntil(absl::Now() + kReapTimeout, [&] {
      ReapAdoptedZombies();
      left = ListDescendants(getpid());
      return left.empty();
    });
    EXPECT_TRUE(left.empty()) << "left behind:\n" << DescribeProcesses(left);
    KillAll(left);
    WaitUntilGone(left, absl::Now() + absl::Seconds(10));
  }

  std::unique_ptr<HangGuard> guard_;
  std::unique_ptr<ActorProcess> registrar_node_;
  std::unique_ptr<ActorRuntime> root_;
  std::unique_ptr<ActorServer> server_;
  std::string registry_address_;
  std::unique_ptr<Registry> registry_;
  std::vector<std::unique_ptr<ActorProcess>> nodes_;
};

class BackendTest : public DiscoveryTest,
                    public testing::WithParamInterface<RegistryBackend> {
 protected:
  RegistryBackend backend() const override { return GetParam(); }
};

// --- 1. A child is registered while it lives ---

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
            ActorClient::Dial(child->address()).Info(absl::Seconds(10)));
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

// --- 2. Siblings find each other by name ---

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

// --- 4. Stale entries ---

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

// Registers `entry` with a plain Registrar/Register: a registration no
// call keeps, so nothing but an Unregister (or a lookup that finds it
// stale) removes it. Register belongs to the Registrar service; the
// Registry interface has no such method.
grpc::Status RegisterOnce(const std::string& registry_address,
                          v1::RegistryEntry entry) {
  auto registrar = v1::Registrar::NewStub(grpc::CreateChannel(
      registry_address, grpc::InsecureChannelCredentials()));
  v1::RegisterRequest request;
  entry.clear_registered_at();
  *request.mutable_entry() = std::move(entry);
  v1::RegisterResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRegistryTimeout));
  return registrar->Register(&context, request, &response);
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

// --- 6. Death without unregistering ---

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

// --- 7. Names shared by several actors ---

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

INSTANTIATE_TEST_SUITE_P(
    Registries, BackendTest,
    testing::Values(RegistryBackend::kThisProcess, RegistryBackend::kActorNode),
    [](const testing::TestParamInfo<RegistryBackend>& info) {
      return BackendName(info.param);
    });

// --- 5. Unreachable registries ---

// A runtime that looks names up in `registries` only.
std::unique_ptr<ActorRuntime> Finder(std::vector<std::string> registries) {
  auto finder =
      std::make_unique<ActorRuntime>(*ActorIdentity::Create("finder"));
  finder->SetRegistryAddresses(std::move(registries));
  return finder;
}

// Checks that `status` is UNAVAILABLE and names `registry`, and that it
// came within `timeout` of `start`.
void ExpectUnavailableNaming(const absl::Status& status,
                             const std::string& registry, absl::Time start,
                             absl::Duration timeout) {
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "registry " + registry))
      << status;
  EXPECT_LT(took, timeout + kTimeoutSlack) << status;
}

TEST_F(DiscoveryTest, RefusingRegistryIsUnavailableNamingIt) {
  RefusingPort dead;
  ASSERT_NE(dead.port(), 0);
  std::unique_ptr<ActorRuntime> finder = Finder({dead.address()});
  constexpr absl::Duration kTimeout = absl::Seconds(2);

  absl::Time start = absl::Now();
  absl::Status status = FindActor(finder.get(), "anyone", kTimeout).status();
  ExpectUnavailableNaming(status, dead.address(), start, kTimeout);

  start = absl::Now();
  status = WaitForActor(finder.get(), "anyone", kTimeout).status();
  ExpectUnavailableNaming(status, dead.address(), start, kTimeout);

  start = absl::Now();
  status = QueryActor(finder.get(), "anyone", kTimeout).status();
  ExpectUnavailableNaming(status, dead.address(), start, kTimeout);

  start = absl::Now();
  status = GetRegistry(finder.get(), kTimeout).status();
  ExpectUnavailableNaming(status, dead.address(), start, kTimeout);
}

// A registry that accepts connections and never answers: lookups still end
// by their deadline, with an error naming it.
TEST_F(DiscoveryTest, SilentRegistryFailsLookupsByTheirDeadline) {
  RefusingPort silent;
  ASSERT_TRUE(silent.Listen());
  std::unique_ptr<ActorRuntime> finder = Finder({silent.address()});
  constexpr absl::Duration kTimeout = absl::Seconds(1);

  for (const auto& [what, lookup] :
       std::vector<std::pair<std::string, std::function<absl::Status()>>>{
           {"FindActor",
            [&] {
              return FindActor(finder.get(), "anyone", kTimeout).status();
            }},
           {"WaitForActor",
            [&] {
              return WaitForActor(finder.get(), "anyone", kTimeout).status();
            }},
       }) {
    const absl::Time start = absl::Now();
    const absl::Status status = lookup();
    const absl::Duration took = absl::Now() - start;
    EXPECT_FALSE(status.ok()) << what;
    EXPECT_TRUE(status.code() == absl::StatusCode::kUnavailable ||
                status.code() == absl::StatusCode::kDeadlineExceeded)
        << what << ": " << status;
    EXPECT_TRUE(
        absl::StrContains(status.message(), "registry " + silent.address()))
        << what << ": " << status;
    EXPECT_LT(took, kTimeout + kTimeoutSlack) << what << ": " << status;
  }
}

// Registries are asked in order; one that cannot be reached is skipped.
TEST_F(DiscoveryTest, UnreachableRegistryIsSkippedForTheNextOne) {
  ActorProcess* worker = StartRegisteredNode("worker");
  ASSERT_NE(worker, nullptr);
  RefusingPort dead;
  std::unique_ptr<ActorRuntime> finder =
      Finder({dead.address(), registry_address()});
  absl::StatusOr<std::unique_ptr<Portal>> found =
      FindActor(finder.get(), "worker");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_NE(*found, nullptr);
  EXPECT_EQ((*found)->address(), worker->address());
}

}  // namespace
}  // namespace tether

int main(int argc, char** argv) {
  if (std::optional<int> code = tether::RunAsChildIfSpawned(argc, argv)) {
    return *code;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
