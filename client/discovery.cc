#include "tether/discovery.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/actor_client.h"
#include "client/registry/registry.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/log.h"
#include "tether/address.h"
#include "tether/status_macros.h"
#include "tether/task.h"

namespace tether {
namespace {

// How long a lookup waits for one registered actor to answer.
constexpr absl::Duration kProbeTimeout = absl::Milliseconds(500);
constexpr absl::Duration kRetryPause = absl::Milliseconds(10);

// What probing a registered actor found.
struct Probed {
  std::optional<Address> answered;  // it answers here as itself
  bool gone = false;                // nothing listens, or someone else does
};

// Looks for the actor of `entry` at its addresses. Only a refused
// connection or another actor's answer (another uuid: the port was taken
// over) proves the entry stale; an actor that is merely slow is skipped,
// not removed.
Probed Probe(const v1::RegistryEntry& entry, absl::Time deadline,
             const TreeToken& token) {
  Probed probed;
  probed.gone = true;
  for (const std::string& text : entry.actor().addresses()) {
    absl::StatusOr<Address> address = Address::Parse(text);
    if (!address.ok()) continue;
    const absl::Duration left = std::min(kProbeTimeout, deadline - absl::Now());
    if (left <= absl::ZeroDuration()) {
      probed.gone = false;
      return probed;
    }
    absl::StatusOr<v1::ActorInfo> info =
        ActorClient::Dial(*address, token).Info(left);
    if (info.ok() && info->id().uuid() == entry.actor().id().uuid()) {
      probed.answered = *address;
      probed.gone = false;
      return probed;
    }
    if (!info.ok() && !absl::IsUnavailable(info.status())) probed.gone = false;
  }
  return probed;
}

struct Answering {
  v1::RegistryEntry entry;
  Address address;  // where it answered
};

// The first of `entries` (newest first) that answers. Entries proved stale
// on the way are unregistered.
std::optional<Answering> FirstAnswering(
    Registry& registry, const std::vector<v1::RegistryEntry>& entries,
    absl::Time deadline, const TreeToken& token) {
  for (const v1::RegistryEntry& entry : entries) {
    Probed probed = Probe(entry, deadline, token);
    if (probed.answered.has_value()) {
      return Answering{entry, *std::move(probed.answered)};
    }
    const v1::ActorId& id = entry.actor().id();
    if (!probed.gone) {
      TETHER_LOG(kInfo) << "registry " << registry.address() << ": "
                        << id.name() << "[" << id.uuid()
                        << "] did not answer in time; skipping it";
      continue;
    }
    TETHER_LOG(kInfo) << "registry " << registry.address() << ": " << id.name()
                      << "[" << id.uuid() << "] is gone; removing its entry";
    absl::StatusOr<bool> removed =
        registry.Unregister(id.uuid(), "unreachable", deadline);
    if (!removed.ok()) {
      TETHER_LOG(kWarning) << removed.status().message();
    }
  }
  return std::nullopt;
}

// Runs `lookup` against each of `self`'s registries in turn until one
// answers (succeeds, or fails with anything but UNAVAILABLE).
template <typename T>
absl::StatusOr<T> AskRegistries(
    ActorRuntime* self,
    const std::function<absl::StatusOr<T>(Registry&)>& lookup) {
  const std::vector<std::string> addresses = self->registry_addresses();
  if (addresses.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("actor ", self->id().name(), " knows no registry to ask"));
  }
  std::vector<std::string> unreachable;
  for (const std::string& address : addresses) {
    absl::StatusOr<std::unique_ptr<Registry>> registry =
        ConnectRegistry(address, ActorCore::Of(*self).token());
    if (!registry.ok()) return registry.status();
    absl::StatusOr<T> result = lookup(**registry);
    if (result.ok() || !absl::IsUnavailable(result.status())) return result;
    unreachable.push_back(std::string(result.status().message()));
  }
  return absl::UnavailableError(absl::StrJoin(unreachable, "; "));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Portal>> FindActor(ActorRuntime* self,
                                                  const std::string& name,
                                                  absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const TreeToken token = ActorCore::Of(*self).token();
  return AskRegistries<std::unique_ptr<Portal>>(
      self, [&](Registry& registry) -> absl::StatusOr<std::unique_ptr<Portal>> {
        TETHER_ASSIGN_OR_RETURN(std::vector<v1::RegistryEntry> entries,
                                registry.Find(name, deadline));
        std::optional<Answering> found =
            FirstAnswering(registry, entries, deadline, token);
        if (!found) return nullptr;
        return std::make_unique<Portal>(self, found->address);
      });
}

absl::StatusOr<std::unique_ptr<Portal>> WaitForActor(ActorRuntime* self,
                                                     const std::string& name,
                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const TreeToken token = ActorCore::Of(*self).token();
  return AskRegistries<std::unique_ptr<Portal>>(
      self, [&](Registry& registry) -> absl::StatusOr<std::unique_ptr<Portal>> {
        // Each round removes the stale entries it met, so the next Wait
        // blocks until a new actor registers.
        while (true) {
          TETHER_ASSIGN_OR_RETURN(std::vector<v1::RegistryEntry> entries,
                                  registry.Wait(name, deadline));
          if (std::optional<Answering> found =
                  FirstAnswering(registry, entries, deadline, token)) {
            return std::make_unique<Portal>(self, found->address);
          }
          // Entries that would not go away must not make this spin.
          TETHER_RETURN_IF_ERROR(Sleep(kRetryPause));
        }
      });
}

absl::StatusOr<std::vector<std::string>> QueryActor(ActorRuntime* self,
                                                    const std::string& name,
                                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const TreeToken token = ActorCore::Of(*self).token();
  return AskRegistries<std::vector<std::string>>(
      self,
      [&](Registry& registry) -> absl::StatusOr<std::vector<std::string>> {
        TETHER_ASSIGN_OR_RETURN(std::vector<v1::RegistryEntry> entries,
                                registry.Find(name, deadline));
        std::optional<Answering> found =
            FirstAnswering(registry, entries, deadline, token);
        if (!found) return std::vector<std::string>();
        return std::vector<std::string>(
            found->entry.actor().addresses().begin(),
            found->entry.actor().addresses().end());
      });
}

absl::StatusOr<std::vector<v1::RegistryEntry>> GetRegistry(
    ActorRuntime* self, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  return AskRegistries<std::vector<v1::RegistryEntry>>(
      self, [&](Registry& registry) { return registry.List(deadline); });
}

}  // namespace tether
