// The etcd registry (client/registry/etcd_registry.h) against a real etcd:
// every test of EtcdRegistryTest starts its own etcd on free loopback ports
// (tests/support/local_etcd.h), so no test sees another's keys or watches.
//
// Covered: the Hold/Find/List/Unregister round trip; newest-first order
// among duplicate names; Wait returning as soon as an entry registers, its
// deadline, and its cancellation; an actor_node registered in etcd that is
// SIGKILLed dropping out once its lease expires (and a live one staying
// past the TTL); WaitForActor returning as soon as an actor registers; an
// unreachable etcd failing every call promptly; malformed etcd addresses;
// a child spawned by a root that uses etcd registering there too.
//
// This binary is also the child actor of the last test: main() calls
// RunAsChildIfSpawned first.
//
// Nothing outlives a test: etcd and actor processes are killed by their
// owners' destructors (and die with this process if it crashes), and a
// hang guard aborts a test that runs past kHangLimit.

#include "client/registry/etcd_registry.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/registry_clients.h"
#include "client/registry/registry.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/uuid.h"
#include "server/actor_server.h"
#include "testing/poll_until.h"
#include "tests/support/actor_process.h"
#include "tests/support/local_etcd.h"
#include "tests/support/test_token.h"
#include "tether/address.h"
#include "tether/discovery.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/task.h"

namespace tether {
namespace {

// Deadline of calls that should succeed.
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
// "At once": the bound on a reaction that involves no timer, with room for
// a loaded 2-core machine under ASan.
constexpr absl::Duration kPrompt = absl::Seconds(2);
// A test still running after this is aborted (and its processes die).
constexpr absl::Duration kHangLimit = absl::Seconds(120);

std::string ActorNode() { return RunfilePath("app/actor_node"); }

// Polls `condition` until it holds or `timeout` passes; whether it held.
bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout) {
  return PollUntil(absl::Now() + timeout, condition);
}

v1::RegistryEntry MakeEntry(const std::string& name,
                            const std::string& address = "127.0.0.1:1") {
  v1::RegistryEntry entry;
  entry.mutable_actor()->mutable_id()->set_name(name);
  entry.mutable_actor()->mutable_id()->set_uuid(NewUuid());
  entry.mutable_actor()->add_addresses(address);
  entry.set_pid(getpid());
  return entry;
}

std::vector<std::string> Uuids(const std::vector<v1::RegistryEntry>& entries) {
  std::vector<std::string> uuids;
  for (const v1::RegistryEntry& entry : entries) {
    uuids.push_back(entry.actor().id().uuid());
  }
  return uuids;
}

const std::string& UuidOf(const v1::RegistryEntry& entry) {
  return entry.actor().id().uuid();
}

// Aborts the process when a test runs past kHangLimit, so a hang fails
// fast and visibly instead of at Bazel's timeout.
class HangGuard {
 public:
  HangGuard()
      : thread_([this] {
          if (!done_.WaitForNotificationWithTimeout(kHangLimit)) {
            std::fprintf(stderr, "hang guard: the test ran past %s\n",
                         absl::FormatDuration(kHangLimit).c_str());
            std::abort();
          }
        }) {}
  ~HangGuard() {
    done_.Notify();
    thread_.join();
  }

 private:
  absl::Notification done_;
  std::thread thread_;
};

// A program run to its end with its stderr captured.
struct Exit {
  int status = 0;  // wait(2) status
  std::string stderr_text;
};

absl::StatusOr<Exit> RunToExit(const std::string& binary,
                               std::vector<std::string> args,
                               absl::Duration timeout) {
  std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(err[1], STDERR_FILENO);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(err[1]);
  Exit exit;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  while (true) {
    pollfd pfd = {err[0], POLLIN, 0};
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[512];
    const ssize_t n = read(err[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    exit.stderr_text.append(chunk, static_cast<size_t>(n));
  }
  close(err[0]);
  if (timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
  waitpid(pid, &exit.status, 0);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(binary, " still ran after ", absl::FormatDuration(timeout),
                     "; stderr: ", exit.stderr_text));
  }
  return exit;
}

class EtcdRegistryTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<LocalEtcd>> etcd = LocalEtcd::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    absl::StatusOr<std::unique_ptr<Registry>> registry =
        ConnectRegistry(etcd_->registry_address(), TestTreeToken());
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
  }

  Registry& registry() { return *registry_; }
  const LocalEtcd& etcd() const { return *etcd_; }

  std::unique_ptr<Registry::Registration> MustHold(
      const v1::RegistryEntry& entry) {
    absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
        registry_->Hold(entry, absl::Now() + kCallTimeout);
    EXPECT_TRUE(held.ok()) << held.status();
    return held.ok() ? *std::move(held) : nullptr;
  }

  std::vector<v1::RegistryEntry> MustFind(const std::string& name) {
    absl::StatusOr<std::vector<v1::RegistryEntry>> found =
        registry_->Find(name, absl::Now() + kCallTimeout);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? *std::move(found) : std::vector<v1::RegistryEntry>();
  }

  // Waits until etcd holds `count` watches: a Wait started on another
  // thread is then watching, not still reading.
  void AwaitWatchers(int64_t count) {
    absl::StatusOr<int64_t> watchers;
    EXPECT_TRUE(Eventually(
        [&] {
          watchers = etcd_->Watchers();
          return watchers.ok() && *watchers == count;
        },
        kCallTimeout))
        << "etcd's watchers: "
        << (watchers.ok() ? absl::StrCat(*watchers)
                          : std::string(watchers.status().message()));
  }

 private:
  HangGuard hang_guard_;
  std::unique_ptr<LocalEtcd> etcd_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(EtcdRegistryTest, HoldFindListUnregisterRoundTrip) {
  const v1::RegistryEntry worker = MakeEntry("worker", "127.0.0.1:4242");
  const v1::RegistryEntry other = MakeEntry("other");
  const absl::Time before = absl::Now();
  std::unique_ptr<Registry::Registration> held = MustHold(worker);
  std::unique_ptr<Registry::Registration> other_held = MustHold(other);

  const std::vector<v1::RegistryEntry> found = MustFind("worker");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(UuidOf(found[0]), UuidOf(worker));
  EXPECT_EQ(found[0].actor().addresses(0), "127.0.0.1:4242");
  EXPECT_EQ(found[0].pid(), getpid());
  EXPECT_GE(found[0].registered_at().seconds(), absl::ToUnixSeconds(before));
  EXPECT_TRUE(MustFind("work").empty()) << "a name is not a prefix match";

  absl::StatusOr<std::vector<v1::RegistryEntry>> listed =
      registry().List(absl::Now() + kCallTimeout);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(Uuids(*listed),
            (std::vector<std::string>{UuidOf(other), UuidOf(worker)}))
      << "List orders by name";

  absl::StatusOr<bool> removed =
      registry().Unregister(UuidOf(worker), "test", absl::Now() + kCallTimeout);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  EXPECT_TRUE(MustFind("worker").empty());
  EXPECT_EQ(MustFind("other").size(), 1u) << "only that uuid's entry goes";
  removed =
      registry().Unregister(UuidOf(worker), "test", absl::Now() + kCallTimeout);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(*removed) << "removing an absent entry is not an error";

  // Releasing a registration removes its entry before it returns.
  other_held.reset();
  EXPECT_TRUE(MustFind("other").empty());
}

TEST_F(EtcdRegistryTest, RefusesEntriesThatCannotBeKeys) {
  v1::RegistryEntry nameless = MakeEntry("");
  v1::RegistryEntry slashed = MakeEntry("a/b");
  v1::RegistryEntry addressless = MakeEntry("x");
  addressless.mutable_actor()->clear_addresses();
  for (const v1::RegistryEntry& entry : {nameless, slashed, addressless}) {
    absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
        registry().Hold(entry, absl::Now() + kCallTimeout);
    EXPECT_TRUE(absl::IsInvalidArgument(held.status())) << held.status();
    EXPECT_TRUE(
        absl::StrContains(held.status().message(), etcd().registry_address()))
        << held.status();
  }
}

TEST_F(EtcdRegistryTest, DuplicateNamesComeNewestFirst) {
  std::vector<v1::RegistryEntry> entries;
  std::vector<std::unique_ptr<Registry::Registration>> held;
  for (int i = 0; i < 3; ++i) {
    entries.push_back(MakeEntry("twin"));
    held.push_back(MustHold(entries.back()));
  }
  held.push_back(MustHold(MakeEntry("alpha")));
  const std::vector<std::string> newest_first = {
      UuidOf(entries[2]), UuidOf(entries[1]), UuidOf(entries[0])};
  EXPECT_EQ(Uuids(MustFind("twin")), newest_first);

  absl::StatusOr<std::vector<v1::RegistryEntry>> listed =
      registry().List(absl::Now() + kCallTimeout);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 4u);
  EXPECT_EQ(listed->front().actor().id().name(), "alpha");
  EXPECT_EQ(
      Uuids(std::vector<v1::RegistryEntry>(listed->begin() + 1, listed->end())),
      newest_first);

  // The newest gone, the next newest leads.
  held[2].reset();
  EXPECT_EQ(Uuids(MustFind("twin")),
            (std::vector<std::string>{UuidOf(entries[1]), UuidOf(entries[0])}));
}

TEST_F(EtcdRegistryTest, WaitReturnsAsSoonAsAnEntryRegisters) {
  absl::StatusOr<std::vector<v1::RegistryEntry>> waited;
  absl::Notification returned;
  absl::Time returned_at;
  std::thread waiter([&] {
    waited = registry().Wait("late", absl::Now() + absl::Seconds(60));
    returned_at = absl::Now();
    returned.Notify();
  });
  // The waiter has read (nothing) and watches.
  AwaitWatchers(1);
  EXPECT_FALSE(returned.HasBeenNotified());
  // Another name does not end the wait.
  std::unique_ptr<Registry::Registration> unrelated =
      MustHold(MakeEntry("lately"));
  const v1::RegistryEntry late = MakeEntry("late");
  std::unique_ptr<Registry::Registration> held = MustHold(late);
  const absl::Time registered_at = absl::Now();
  ASSERT_TRUE(returned.WaitForNotificationWithTimeout(kCallTimeout));
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(Uuids(*waited), std::vector<std::string>{UuidOf(late)});
  EXPECT_LT(returned_at - registered_at, kPrompt);
  // The watch ended with the wait.
  AwaitWatchers(0);

  // With an entry there already, Wait answers at once.
  waited = registry().Wait("late", absl::Now() + kPrompt);
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(Uuids(*waited), std::vector<std::string>{UuidOf(late)});
}

TEST_F(EtcdRegistryTest, WaitEndsAtItsDeadline) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<v1::RegistryEntry>> waited =
      registry().Wait("nobody", start + absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(waited.status())) << waited.status();
  EXPECT_TRUE(absl::StrContains(waited.status().message(), "'nobody'"));
  EXPECT_TRUE(
      absl::StrContains(waited.status().message(), etcd().registry_address()));
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_LT(took, absl::Milliseconds(300) + kPrompt);
  AwaitWatchers(0);
}

TEST_F(EtcdRegistryTest, WaitIsACancellationPoint) {
  CancelHandle handle;
  absl::Notification scoped;
  absl::StatusOr<std::vector<v1::RegistryEntry>> waited;
  std::thread waiter([&] {
    CancelScope scope;
    handle = scope.handle();
    scoped.Notify();
    waited = registry().Wait("never", absl::Now() + absl::Seconds(60));
  });
  scoped.WaitForNotification();
  AwaitWatchers(1);
  const absl::Time cancelled_at = absl::Now();
  handle.Cancel(absl::CancelledError("the test is done waiting"));
  waiter.join();
  EXPECT_LT(absl::Now() - cancelled_at, kPrompt);
  EXPECT_TRUE(absl::IsCancelled(waited.status())) << waited.status();
  EXPECT_EQ(waited.status().message(), "the test is done waiting")
      << "the cancel reason, as it was given";
  AwaitWatchers(0);
}

TEST_F(EtcdRegistryTest, KilledActorDropsOutWhenItsLeaseExpires) {
  absl::StatusOr<std::unique_ptr<ActorProcess>> actor = ActorProcess::Start(
      ActorNode(), {"--name=doomed",
                    absl::StrCat("--registry=", etcd().registry_address())});
  ASSERT_TRUE(actor.ok()) << actor.status();
  std::vector<v1::RegistryEntry> found = MustFind("doomed");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid(), (*actor)->pid());
  EXPECT_EQ(found[0].actor().addresses(0), (*actor)->address().ToString());

  // Renewals keep a live actor registered well past the lease's TTL.
  const absl::Time past_ttl = absl::Now() + kEtcdLeaseTtl + absl::Seconds(1);
  while (absl::Now() < past_ttl) {
    ASSERT_EQ(MustFind("doomed").size(), 1u) << "a live actor's entry expired";
    absl::SleepFor(absl::Milliseconds(250));
  }

  (*actor)->Signal(SIGKILL);
  ASSERT_TRUE((*actor)->WaitExit(kCallTimeout).ok());
  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE(Eventually([&] { return MustFind("doomed").empty(); },
                         kEtcdLeaseTtl + absl::Seconds(5)))
      << "the entry outlived its lease";
  // Nothing unregistered it: it went with the lease, which had at least
  // two of its three seconds left.
  EXPECT_GE(absl::Now() - killed_at, absl::Seconds(1));
}

TEST_F(EtcdRegistryTest, WaitForActorReturnsAsSoonAsOneRegisters) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create("seeker");
  ASSERT_TRUE(identity.ok()) << identity.status();
  ActorCore seeker(*identity);
  seeker.SetToken(TestTreeToken());
  seeker.SetRegistryAddresses({etcd().registry_address()});

  absl::StatusOr<std::unique_ptr<Portal>> portal;
  absl::Notification returned;
  absl::Time returned_at;
  std::thread waiter([&] {
    portal = WaitForActor(&seeker, "gretchen", absl::Seconds(60));
    returned_at = absl::Now();
    returned.Notify();
  });
  AwaitWatchers(1);
  EXPECT_FALSE(returned.HasBeenNotified());
  // An actor registers before it prints its listening line.
  absl::StatusOr<std::unique_ptr<ActorProcess>> gretchen = ActorProcess::Start(
      ActorNode(), {"--name=gretchen",
                    absl::StrCat("--registry=", etcd().registry_address())});
  const absl::Time registered_by = absl::Now();
  ASSERT_TRUE(gretchen.ok()) << gretchen.status();
  ASSERT_TRUE(returned.WaitForNotificationWithTimeout(kCallTimeout));
  waiter.join();
  ASSERT_TRUE(portal.ok()) << portal.status();
  ASSERT_NE(*portal, nullptr);
  EXPECT_EQ((*portal)->address(), (*gretchen)->address());
  EXPECT_LT(returned_at - registered_by, kPrompt);
}

TEST_F(EtcdRegistryTest, SpawnedChildOfAnEtcdRootRegistersThere) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create("etcd-root");
  ASSERT_TRUE(identity.ok()) << identity.status();
  ActorCore root(*identity);
  root.SetToken(TestTreeToken());
  root.SetRegistryAddresses({etcd().registry_address()});
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &root, *Address::Parse("127.0.0.1:0"), [](const v1::ActorId&) {},
      RegistryClients::Create());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_EQ(MustFind("etcd-root").size(), 1u) << "the root registers in etcd";

  ActorOptions patient;
  patient.spawn_timeout = absl::Seconds(60);
  const absl::Status opened =
      ActorNursery::Open(&root, [&](ActorNursery& nursery) -> absl::Status {
        absl::StatusOr<Portal*> child =
            nursery.StartActor("etcd-child", patient);
        if (!child.ok()) return child.status();
        const std::vector<v1::RegistryEntry> found = MustFind("etcd-child");
        EXPECT_EQ(found.size(), 1u);
        if (!found.empty()) {
          EXPECT_EQ(found[0].parent().uuid(), root.identity().uuid);
          EXPECT_EQ(found[0].actor().addresses(0),
                    (*child)->address().ToString());
          EXPECT_NE(found[0].pid(), getpid());
        }
        return (*child)->CancelActor().status();
      });
  EXPECT_TRUE(opened.ok()) << opened;
  EXPECT_TRUE(MustFind("etcd-child").empty())
      << "a child that stops unregisters";
  (*server)->Shutdown(absl::Seconds(1));
  EXPECT_TRUE(MustFind("etcd-root").empty());
}

// --- Without a running etcd ---

TEST(EtcdUnreachableTest, EveryCallFailsPromptlyNamingTheRegistry) {
  HangGuard hang_guard;
  absl::StatusOr<Address> nowhere = UnusedLoopbackAddress();
  ASSERT_TRUE(nowhere.ok()) << nowhere.status();
  const std::unique_ptr<Registry> registry = NewEtcdRegistry(*nowhere);
  const std::string address = absl::StrCat("etcd://", nowhere->ToString());
  EXPECT_EQ(registry->address(), address);

  const auto expect_unavailable = [&](const absl::Status& status,
                                      absl::Time start) {
    EXPECT_TRUE(absl::IsUnavailable(status)) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), address)) << status;
    EXPECT_LT(absl::Now() - start, kPrompt) << status;
  };
  absl::Time start = absl::Now();
  expect_unavailable(
      registry->Hold(MakeEntry("x"), start + kCallTimeout).status(), start);
  start = absl::Now();
  expect_unavailable(registry->Find("x", start + kCallTimeout).status(), start);
  start = absl::Now();
  expect_unavailable(registry->Wait("x", start + kCallTimeout).status(), start);
  start = absl::Now();
  expect_unavailable(registry->List(start + kCallTimeout).status(), start);
  start = absl::Now();
  expect_unavailable(
      registry->Unregister(NewUuid(), "test", start + kCallTimeout).status(),
      start);
}

TEST(EtcdUnreachableTest, ActorNodeSaysItCannotRegister) {
  HangGuard hang_guard;
  absl::StatusOr<Address> nowhere = UnusedLoopbackAddress();
  ASSERT_TRUE(nowhere.ok()) << nowhere.status();
  const std::string address = absl::StrCat("etcd://", nowhere->ToString());
  absl::StatusOr<Exit> exit =
      RunToExit(ActorNode(),
                {"--name=lonely", "--registry=" + address,
                 "--token_file=" + TestTreeTokenFile()},
                absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(WIFEXITED(exit->status));
  EXPECT_EQ(WEXITSTATUS(exit->status), 2);
  EXPECT_TRUE(absl::StrContains(exit->stderr_text, "cannot register"))
      << exit->stderr_text;
  EXPECT_TRUE(absl::StrContains(exit->stderr_text, address))
      << exit->stderr_text;
}

// Actors found through etcd may be called from other machines: one that
// registers there must be given the tree's token, not make its own.
TEST(EtcdTokenTest, ActorNodeInEtcdWithoutATokenFileSaysSo) {
  HangGuard hang_guard;
  absl::StatusOr<Exit> exit = RunToExit(
      ActorNode(), {"--name=tokenless", "--registry=etcd://127.0.0.1:2379"},
      absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(WIFEXITED(exit->status));
  EXPECT_EQ(WEXITSTATUS(exit->status), 2);
  EXPECT_TRUE(absl::StrContains(exit->stderr_text, "--token_file"))
      << exit->stderr_text;
  EXPECT_TRUE(absl::StrContains(exit->stderr_text, "docs/security.md"))
      << exit->stderr_text;
}

TEST(EtcdAddressTest, MalformedAddressesAreOneLineInvalidArgument) {
  for (const std::string address :
       {"etcd://", "etcd://no-port", "etcd://127.0.0.1:0",
        "etcd://127.0.0.1:99999", "etcd://unix:/tmp/etcd.sock"}) {
    absl::StatusOr<std::unique_ptr<Registry>> registry =
        ConnectRegistry(address, TestTreeToken());
    EXPECT_TRUE(absl::IsInvalidArgument(registry.status()))
        << address << ": " << registry.status();
    EXPECT_TRUE(absl::StrContains(registry.status().message(),
                                  absl::StrCat("'", address, "'")))
        << registry.status();
    EXPECT_FALSE(absl::StrContains(registry.status().message(), "\n"));
  }
  absl::StatusOr<std::unique_ptr<Registry>> registry =
      ConnectRegistry("etcd://127.0.0.1:2379", TestTreeToken());
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ((*registry)->address(), "etcd://127.0.0.1:2379");
}

TEST(EtcdAddressTest, ActorNodeRejectsAMalformedEtcdAddress) {
  HangGuard hang_guard;
  absl::StatusOr<Exit> exit =
      RunToExit(ActorNode(), {"--name=confused", "--registry=etcd://no-port"},
                absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(WIFEXITED(exit->status));
  EXPECT_EQ(WEXITSTATUS(exit->status), 2);
  EXPECT_TRUE(absl::StartsWith(exit->stderr_text,
                               "actor_node: error: --registry: malformed "
                               "registry address 'etcd://no-port'"))
      << exit->stderr_text;
  EXPECT_EQ(
      std::count(exit->stderr_text.begin(), exit->stderr_text.end(), '\n'), 1)
      << "one line: " << exit->stderr_text;
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
