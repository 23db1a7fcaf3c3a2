// File: server/registrar/registry_store.h
//
// The embedded registrar's table: one entry per actor uuid, looked up by
// name newest first, and watchers that wait for a name to appear.
//
//   RegistryStore store;
//   absl::StatusOr<v1::RegistryEntry> stored = store.Put(entry);  // stamped
//   std::vector<v1::RegistryEntry> found = store.Find("worker");
//   uint64_t watch = store.Watch("worker", [](auto entries) { ... });
//   if (store.Unwatch(watch)) { /* it had not run and now never will */ }
//
// Order: entries of one name are newest first by the order the store
// accepted them (registered_at, with ties broken by arrival). Thread-safe;
// watchers run without the store's lock held.

#ifndef TETHER_SERVER_REGISTRAR_REGISTRY_STORE_H_
#define TETHER_SERVER_REGISTRAR_REGISTRY_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tether/v1/registrar.pb.h"

namespace tether {

class RegistryStore {
 public:
  using Watcher = std::function<void(std::vector<v1::RegistryEntry> entries)>;

  // Entries a store holds at most, so that peers registering without end
  // cannot exhaust the registrar's memory.
  static constexpr size_t kDefaultMaxEntries = 10000;

  explicit RegistryStore(size_t max_entries = kDefaultMaxEntries)
      : max_entries_(max_entries) {}

  // Adds `entry`, replacing any entry of the same uuid, and stamps its
  // registered_at (unique within the store, increasing). Returns the stored
  // entry. Watchers of its name run. ResourceExhausted, storing nothing,
  // when the store is full and `entry` would not replace one.
  absl::StatusOr<v1::RegistryEntry> Put(v1::RegistryEntry entry);

  // Removes the entry of `uuid`; false when there is none.
  bool Remove(const std::string& uuid);

  // Removes the entry of `stored`'s uuid only if it is still the one Put
  // returned as `stored` (not replaced since); false otherwise.
  bool RemoveIfUnchanged(const v1::RegistryEntry& stored);

  // Entries named `name`, newest first.
  std::vector<v1::RegistryEntry> Find(const std::string& name) const;

  // Every entry, by name, then newest first.
  std::vector<v1::RegistryEntry> List() const;

  // Runs `watcher` once with Find(name) as soon as that is non-empty: at
  // once on this thread if it already is. Returns an id for Unwatch.
  uint64_t Watch(const std::string& name, Watcher watcher);

  // Forgets a watcher. True if it had not run (and now never will).
  bool Unwatch(uint64_t id);

 private:
  struct Stored {
    v1::RegistryEntry entry;
    uint64_t sequence;  // arrival order; breaks registered_at ties
  };
  struct Pending {
    std::string name;
    Watcher watcher;
  };

  std::vector<v1::RegistryEntry> FindLocked(const std::string& name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  mutable absl::Mutex mu_;
  std::map<std::string, Stored> by_uuid_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Pending> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_stamp_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t next_watch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tether

#endif  // TETHER_SERVER_REGISTRAR_REGISTRY_STORE_H_
