// Registries that cannot be reached: one that refuses connections and one
// that accepts them and never answers make every lookup fail within its
// timeout with an error naming the registry; one ahead of a working
// registry is skipped (tests/discovery/discovery_test_fixture.h).

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "tests/discovery/discovery_test_fixture.h"
#include "tests/support/test_token.h"
#include "tether/discovery.h"
#include "tether/portal.h"

namespace tether::discovery_test {
namespace {

// Lookups against an unreachable registry must fail within their own
// timeout; this much longer covers a slow machine, no more.
constexpr absl::Duration kTimeoutSlack = absl::Milliseconds(500);

// A runtime that looks names up in `registries` only.
std::unique_ptr<ActorCore> Finder(std::vector<std::string> registries) {
  auto finder = std::make_unique<ActorCore>(*ActorIdentity::Create("finder"));
  finder->SetToken(TestTreeToken());
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
  std::unique_ptr<ActorCore> finder = Finder({dead.address()});
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
  std::unique_ptr<ActorCore> finder = Finder({silent.address()});
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
  std::unique_ptr<ActorCore> finder =
      Finder({dead.address(), registry_address()});
  absl::StatusOr<std::unique_ptr<Portal>> found =
      FindActor(finder.get(), "worker");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_NE(*found, nullptr);
  EXPECT_EQ((*found)->address(), worker->address());
}

}  // namespace
}  // namespace tether::discovery_test
