// File: tests/discovery/discovery_test_fixture.h
//
// Shared set-up of the discovery tests (tests/discovery_*_test.cc),
// discovery across real processes after tractor's
// tests/discovery/test_registrar.py: registration while an actor lives
// (discovery_registration_test), lookups by name and stale entries
// (discovery_lookup_test), registries that cannot be reached
// (discovery_unreachable_test).
//
// Each test binary is the root actor (a runtime and a server per test) and
// every nursery child is that binary re-executed in child mode
// (tests/discovery/discovery_test_main.cc), so the functions children run are
// registered by the test file that uses them. Standalone actors are
// actor_node processes.
//
// The registry is a parameter of most tests (RegistryBackend): the
// registrar the test's own root actor embeds, or a separate actor_node
// acting as the registry of the tree. A test file runs its BackendTest
// cases against each with
//
//   INSTANTIATE_TEST_SUITE_P(Registries, BackendTest, EveryBackend(),
//                            BackendTestName);
//
// The test process is a child subreaper; every test ends with no
// descendant left (TearDown waits for that with a deadline and kills what
// is left), and a hang guard kills them all if a test hangs.
//
// Not thread-safe: one test thread drives a fixture.

#ifndef TETHER_TESTS_DISCOVERY_DISCOVERY_TEST_FIXTURE_H_
#define TETHER_TESTS_DISCOVERY_DISCOVERY_TEST_FIXTURE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/registry/registry.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "server/actor_server.h"
#include "testing/poll_until.h"
#include "tests/support/actor_process.h"
#include "tests/support/hang_guard.h"
#include "tether/address.h"
#include "tether/nursery.h"
#include "tether/v1/registrar.pb.h"

namespace tether::discovery_test {

// Booting actors (several processes on 2 cores, under ASan too).
inline constexpr absl::Duration kBootTimeout = absl::Seconds(30);
// An entry of an actor that is gone (unregistered, killed, or found stale)
// must leave the registry within this.
inline constexpr absl::Duration kGoneTimeout = absl::Seconds(5);
// How long the test waits for something to appear in the registry.
inline constexpr absl::Duration kRegistryTimeout = absl::Seconds(5);

// --- Helpers ---

// Spawning processes on a 2-core machine (under ASan, several test runs at
// once) is slow; boot time is not what these tests measure.
ActorOptions Patient();

// The entry of `uuid` in `entries`, or null.
const v1::RegistryEntry* FindUuid(const std::vector<v1::RegistryEntry>& entries,
                                  const std::string& uuid);

// "name[uuid] at addresses, ..." for failure messages.
std::string Describe(const std::vector<v1::RegistryEntry>& entries);

// The uuid of the actor that answers at `address`.
absl::StatusOr<std::string> UuidAt(const Address& address);

// An entry for an actor named `name` with a fresh uuid at `address`.
v1::RegistryEntry FakeEntry(const std::string& name,
                            const std::string& address);

// Registers `entry` with a plain Registrar/Register: a registration no
// call keeps, so nothing but an Unregister (or a lookup that finds it
// stale) removes it. Register belongs to the Registrar service; the
// Registry interface has no such method.
grpc::Status RegisterOnce(const std::string& registry_address,
                          v1::RegistryEntry entry);

// A loopback TCP port that is bound but never listens: every connection to
// it is refused at once, and no other socket can take the port while this
// object lives.
class RefusingPort {
 public:
  RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  ~RefusingPort();

  // "127.0.0.1:PORT"; the port is 0 if the socket could not be bound.
  std::string address() const;
  int port() const { return port_; }

  // Listens without ever accepting: the kernel completes connections into
  // the backlog, so a client connects and then hears nothing.
  bool Listen();

 private:
  int fd_ = -1;
  int port_ = 0;
};

// --- The fixture ---

enum class RegistryBackend {
  // The registrar the test's root actor embeds (it names no registry).
  kThisProcess,
  // A separate actor_node that names no registry, so it hosts one; the
  // test's root actor and everything it starts register there.
  kActorNode,
};

// Every backend, and the names of their test cases ("EmbeddedInRoot",
// "ActorNodeRegistrar"), for INSTANTIATE_TEST_SUITE_P.
inline auto EveryBackend() {
  return testing::Values(RegistryBackend::kThisProcess,
                         RegistryBackend::kActorNode);
}
std::string BackendTestName(
    const testing::TestParamInfo<RegistryBackend>& info);

class DiscoveryTest : public testing::Test {
 protected:
  virtual RegistryBackend backend() const {
    return RegistryBackend::kThisProcess;
  }

  void SetUp() override;
  void TearDown() override;

  ActorCore& root() { return *root_; }
  const std::string& registry_address() const { return registry_address_; }
  Registry& registry() { return *registry_; }

  // Starts an actor_node with `args`; the caller owns it.
  absl::StatusOr<std::unique_ptr<ActorProcess>> StartNode(
      std::vector<std::string> args);

  // An actor_node named `name` registered with this test's registry (its
  // listening line comes after the registry confirmed it). Owned by the
  // fixture; null, with the failure recorded, if it does not start.
  ActorProcess* StartRegisteredNode(const std::string& name);

  // Every entry of the registry; an unreachable registry fails the test.
  std::vector<v1::RegistryEntry> Entries();

  bool Registered(const std::string& uuid);

  // Waits until the entry of `uuid` is gone; returns how long that took
  // from `since`, or nullopt (with the failure recorded) at the deadline.
  std::optional<absl::Duration> AwaitGone(const std::string& uuid,
                                          absl::Time since);

  // ActorNursery::Open under a watchdog that cancels the opening task after
  // `limit`: a nursery that never ends fails the test instead of hanging.
  absl::Status OpenNursery(const ActorNursery::Block& block,
                           absl::Duration limit = absl::Seconds(90));

 private:
  // Nothing this test started outlives it: what is left is a failure, and
  // is killed.
  void ExpectNoProcessLeft();

  std::unique_ptr<HangGuard> guard_;
  std::unique_ptr<ActorProcess> registrar_node_;
  std::unique_ptr<ActorCore> root_;
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

}  // namespace tether::discovery_test

#endif  // TETHER_TESTS_DISCOVERY_DISCOVERY_TEST_FIXTURE_H_
