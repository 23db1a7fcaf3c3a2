#include "server/registrar/registry_store.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace tether {

using google::protobuf::util::TimeUtil;

absl::StatusOr<v1::RegistryEntry> RegistryStore::Put(v1::RegistryEntry entry) {
  std::vector<Watcher> ready;
  std::vector<v1::RegistryEntry> found;
  {
    absl::MutexLock lock(&mu_);
    if (by_uuid_.size() >= max_entries_ &&
        by_uuid_.count(entry.actor().id().uuid()) == 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the registry is full (", max_entries_, " entries)"));
    }
    // Unique stamps: RemoveIfUnchanged tells an entry from its replacement
    // by them.
    last_stamp_ = std::max(absl::Now(), last_stamp_ + absl::Nanoseconds(1));
    *entry.mutable_registered_at() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(last_stamp_));
    const std::string& name = entry.actor().id().name();
    by_uuid_[entry.actor().id().uuid()] = Stored{entry, next_sequence_++};
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      if (it->second.name == name) {
        ready.push_back(std::move(it->second.watcher));
        it = watchers_.erase(it);
      } else {
        ++it;
      }
    }
    if (!ready.empty()) found = FindLocked(name);
  }
  for (Watcher& watcher : ready) watcher(found);
  return entry;
}

bool RegistryStore::Remove(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  return by_uuid_.erase(uuid) > 0;
}

bool RegistryStore::RemoveIfUnchanged(const v1::RegistryEntry& stored) {
  absl::MutexLock lock(&mu_);
  auto it = by_uuid_.find(stored.actor().id().uuid());
  if (it == by_uuid_.end() ||
      it->second.entry.registered_at() != stored.registered_at()) {
    return false;
  }
  by_uuid_.erase(it);
  return true;
}

std::vector<v1::RegistryEntry> RegistryStore::Find(
    const std::string& name) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindLocked(name);
}

std::vector<v1::RegistryEntry> RegistryStore::FindLocked(
    const std::string& name) const {
  std::vector<const Stored*> matches;
  for (const auto& [uuid, stored] : by_uuid_) {
    if (stored.entry.actor().id().name() == name) matches.push_back(&stored);
  }
  std::sort(matches.begin(), matches.end(),
            [](const Stored* a, const Stored* b) {
              return a->sequence > b->sequence;
            });
  std::vector<v1::RegistryEntry> entries;
  entries.reserve(matches.size());
  for (const Stored* stored : matches) entries.push_back(stored->entry);
  return entries;
}

std::vector<v1::RegistryEntry> RegistryStore::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<const Stored*> all;
  for (const auto& [uuid, stored] : by_uuid_) all.push_back(&stored);
  std::sort(all.begin(), all.end(), [](const Stored* a, const Stored* b) {
    return std::forward_as_tuple(a->entry.actor().id().name(), b->sequence) <
           std::forward_as_tuple(b->entry.actor().id().name(), a->sequence);
  });
  std::vector<v1::RegistryEntry> entries;
  entries.reserve(all.size());
  for (const Stored* stored : all) entries.push_back(stored->entry);
  return entries;
}

uint64_t RegistryStore::Watch(const std::string& name, Watcher watcher) {
  std::vector<v1::RegistryEntry> found;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_watch_++;
    found = FindLocked(name);
    if (found.empty()) {
      watchers_.emplace(id, Pending{name, std::move(watcher)});
      return id;
    }
  }
  watcher(std::move(found));
  return id;
}

bool RegistryStore::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  return watchers_.erase(id) > 0;
}

}  // namespace tether
