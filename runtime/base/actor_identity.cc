#include "runtime/base/actor_identity.h"

#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/base/uuid.h"

namespace tether {

constexpr size_t kMaxActorNameLength = 100;

absl::Status ValidateActorName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("actor name is empty");
  if (name.size() > kMaxActorNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "actor name is longer than ", kMaxActorNameLength, " characters"));
  }
  for (const char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("actor name '", name,
                       "' may only contain letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

bool SameActor(const v1::ActorId& a, const v1::ActorId& b) {
  return !a.uuid().empty() && a.uuid() == b.uuid();
}

absl::StatusOr<ActorIdentity> ActorIdentity::Create(absl::string_view name) {
  absl::Status valid = ValidateActorName(name);
  if (!valid.ok()) return valid;
  ActorIdentity identity;
  identity.name = std::string(name);
  identity.uuid = NewUuid();
  identity.pid = ::getpid();
  identity.started_at = absl::Now();
  return identity;
}

absl::StatusOr<ActorIdentity> ActorIdentity::WithUuid(absl::string_view name,
                                                      absl::string_view uuid) {
  if (!IsUuid(uuid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uuid, "' is not a UUID in canonical form"));
  }
  absl::StatusOr<ActorIdentity> identity = Create(name);
  if (identity.ok()) identity->uuid = std::string(uuid);
  return identity;
}

v1::ActorId ActorIdentity::ToProto() const {
  v1::ActorId id;
  id.set_name(name);
  id.set_uuid(uuid);
  return id;
}

}  // namespace tether
