// File: runtime/base/actor_identity.h
//
// Who this actor process is: a human-chosen name (not unique), a UUID chosen
// at start (unique), its pid and its start time.
//
//   TETHER_ASSIGN_OR_RETURN(ActorIdentity me, ActorIdentity::Create("worker"));
//   v1::ActorId wire = me.ToProto();
//
// A value type; thread-compatible.

#ifndef TETHER_RUNTIME_BASE_ACTOR_IDENTITY_H_
#define TETHER_RUNTIME_BASE_ACTOR_IDENTITY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/v1/identity.pb.h"

namespace tether {

// Names are 1..100 characters of [A-Za-z0-9._-]: safe in log lines, registry
// keys, file names and command lines. InvalidArgument otherwise.
absl::Status ValidateActorName(absl::string_view name);

// Whether two ids name the same actor: equal, non-empty uuids.
bool SameActor(const v1::ActorId& a, const v1::ActorId& b);

struct ActorIdentity {
  // An identity for the calling process: a fresh UUID, getpid(), now.
  static absl::StatusOr<ActorIdentity> Create(absl::string_view name);
  // The same with a UUID chosen elsewhere (a parent names its children).
  static absl::StatusOr<ActorIdentity> WithUuid(absl::string_view name,
                                                absl::string_view uuid);

  v1::ActorId ToProto() const;

  std::string name;
  std::string uuid;
  int64_t pid = 0;
  absl::Time started_at;
};

}  // namespace tether

#endif  // TETHER_RUNTIME_BASE_ACTOR_IDENTITY_H_
