#include "server/registrar/registry_store.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace tether {
namespace {

v1::RegistryEntry Entry(const std::string& name, const std::string& uuid) {
  v1::RegistryEntry entry;
  entry.mutable_actor()->mutable_id()->set_name(name);
  entry.mutable_actor()->mutable_id()->set_uuid(uuid);
  entry.mutable_actor()->add_addresses("127.0.0.1:1");
  return entry;
}

// Puts `entry`, which the store must accept.
v1::RegistryEntry PutOk(RegistryStore& store, v1::RegistryEntry entry) {
  absl::StatusOr<v1::RegistryEntry> stored = store.Put(std::move(entry));
  EXPECT_TRUE(stored.ok()) << stored.status();
  return stored.ok() ? *std::move(stored) : v1::RegistryEntry();
}

std::vector<std::string> Uuids(const std::vector<v1::RegistryEntry>& entries) {
  std::vector<std::string> uuids;
  for (const v1::RegistryEntry& entry : entries) {
    uuids.push_back(entry.actor().id().uuid());
  }
  return uuids;
}

TEST(RegistryStoreTest, FindReturnsEntriesOfANameNewestFirst) {
  RegistryStore store;
  PutOk(store, Entry("worker", "a"));
  PutOk(store, Entry("other", "b"));
  PutOk(store, Entry("worker", "c"));
  EXPECT_EQ(Uuids(store.Find("worker")), std::vector<std::string>({"c", "a"}));
  EXPECT_TRUE(store.Find("nobody").empty());
}

TEST(RegistryStoreTest, PutStampsRegisteredAtUniquelyAndIncreasing) {
  RegistryStore store;
  const v1::RegistryEntry first = PutOk(store, Entry("worker", "a"));
  const v1::RegistryEntry second = PutOk(store, Entry("worker", "a"));
  EXPECT_GT(first.registered_at().seconds(), 0);
  const auto nanos = [](const v1::RegistryEntry& entry) {
    return entry.registered_at().seconds() * 1000000000 +
           entry.registered_at().nanos();
  };
  EXPECT_GT(nanos(second), nanos(first));
}

TEST(RegistryStoreTest, AnEntryReplacedInTheSameInstantIsKept) {
  RegistryStore store;
  const v1::RegistryEntry held = PutOk(store, Entry("worker", "a"));
  PutOk(store, Entry("worker", "a"));
  EXPECT_FALSE(store.RemoveIfUnchanged(held));
  EXPECT_EQ(store.Find("worker").size(), 1u);
}

TEST(RegistryStoreTest, RegisteringAUuidAgainReplacesAndRenewsIt) {
  RegistryStore store;
  PutOk(store, Entry("worker", "a"));
  PutOk(store, Entry("worker", "b"));
  PutOk(store, Entry("worker", "a"));
  EXPECT_EQ(Uuids(store.Find("worker")), std::vector<std::string>({"a", "b"}));
}

TEST(RegistryStoreTest, ListOrdersByNameThenNewestFirst) {
  RegistryStore store;
  PutOk(store, Entry("b", "1"));
  PutOk(store, Entry("a", "2"));
  PutOk(store, Entry("b", "3"));
  EXPECT_EQ(Uuids(store.List()), std::vector<std::string>({"2", "3", "1"}));
}

TEST(RegistryStoreTest, AFullStoreRefusesNewUuidsButStillReplaces) {
  RegistryStore store(/*max_entries=*/2);
  PutOk(store, Entry("worker", "a"));
  PutOk(store, Entry("worker", "b"));
  const absl::StatusOr<v1::RegistryEntry> refused =
      store.Put(Entry("worker", "c"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted)
      << refused.status();
  EXPECT_EQ(refused.status().message(), "the registry is full (2 entries)");
  EXPECT_EQ(Uuids(store.Find("worker")), std::vector<std::string>({"b", "a"}));

  PutOk(store, Entry("renamed", "a"));  // Replaces: no new room needed.
  EXPECT_TRUE(store.Remove("b"));
  PutOk(store, Entry("worker", "c"));  // Room again.
  EXPECT_EQ(Uuids(store.Find("worker")), std::vector<std::string>({"c"}));
}

TEST(RegistryStoreTest, RemoveForgetsTheEntry) {
  RegistryStore store;
  PutOk(store, Entry("worker", "a"));
  EXPECT_TRUE(store.Remove("a"));
  EXPECT_FALSE(store.Remove("a"));
  EXPECT_TRUE(store.Find("worker").empty());
}

TEST(RegistryStoreTest, RemoveIfUnchangedKeepsAReplacedEntry) {
  RegistryStore store;
  const v1::RegistryEntry first = PutOk(store, Entry("worker", "a"));
  v1::RegistryEntry replaced = first;
  replaced.mutable_registered_at()->set_nanos(first.registered_at().nanos() +
                                              1);
  EXPECT_FALSE(store.RemoveIfUnchanged(replaced));
  EXPECT_EQ(store.Find("worker").size(), 1u);
  EXPECT_TRUE(store.RemoveIfUnchanged(first));
  EXPECT_TRUE(store.Find("worker").empty());
}

TEST(RegistryStoreTest, AWatcherRunsAtOnceWhenTheNameExists) {
  RegistryStore store;
  PutOk(store, Entry("worker", "a"));
  std::vector<std::string> seen;
  const uint64_t watch = store.Watch(
      "worker",
      [&](std::vector<v1::RegistryEntry> entries) { seen = Uuids(entries); });
  EXPECT_EQ(seen, std::vector<std::string>({"a"}));
  EXPECT_FALSE(store.Unwatch(watch));
}

TEST(RegistryStoreTest, AWatcherRunsOnceWhenItsNameIsRegistered) {
  RegistryStore store;
  int runs = 0;
  std::vector<std::string> seen;
  store.Watch("worker", [&](std::vector<v1::RegistryEntry> entries) {
    ++runs;
    seen = Uuids(entries);
  });
  PutOk(store, Entry("other", "x"));
  EXPECT_EQ(runs, 0);
  PutOk(store, Entry("worker", "a"));
  PutOk(store, Entry("worker", "b"));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(seen, std::vector<std::string>({"a"}));
}

TEST(RegistryStoreTest, AnUnwatchedWatcherNeverRuns) {
  RegistryStore store;
  bool ran = false;
  const uint64_t watch = store.Watch(
      "worker", [&](std::vector<v1::RegistryEntry>) { ran = true; });
  EXPECT_TRUE(store.Unwatch(watch));
  PutOk(store, Entry("worker", "a"));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace tether
