// File: tether/actor_runtime.h
//
// The actor a piece of code runs in: its identity, where it listens, its
// parent, the registries it uses and whether its tree is in debug mode.
// A root program gets its actor from RootMain (tether/main.h); a registered
// function finds the actor that serves it with ActorRuntime::Current().
// Portals, nurseries and lookups take it as the actor that acts: the
// opener of contexts, the parent of children.
//
// clang-format off
// Example:
//
//   // A function that says which actor served it.
//   absl::StatusOr<Value> WhoAmI(const Value&) {
//     ActorRuntime* self = ActorRuntime::Current();
//     if (self == nullptr) return absl::FailedPreconditionError("no actor");
//     return Value::String(self->id().name());
//   }
//   TETHER_REGISTER_PLAIN(who_am_i, WhoAmI);
// clang-format on
//
// Thread-safety: thread-safe. The runtime owns the object; it lives as
// long as its actor serves.

#ifndef TETHER_ACTOR_RUNTIME_H_
#define TETHER_ACTOR_RUNTIME_H_

#include <string>
#include <vector>

#include "tether/v1/identity.pb.h"

namespace tether {

class ActorRuntime {
 public:
  ActorRuntime(const ActorRuntime&) = delete;
  ActorRuntime& operator=(const ActorRuntime&) = delete;

  // The actor whose serving task is calling (a registered function while
  // it runs), or null elsewhere; a root's body has its actor as argument.
  static ActorRuntime* Current();

  // Name and uuid.
  v1::ActorId id() const;
  // The id plus the addresses the actor listens on.
  v1::ActorRef ref() const;
  // The supervising parent; unset for roots and standalone nodes.
  v1::ActorRef parent() const;
  // Where the actor registers and looks names up (tether/discovery.h):
  // gRPC targets of registrars, or etcd://host:port URLs.
  std::vector<std::string> registry_addresses() const;
  // The actor's tree runs in debug mode (tether/debugger.h).
  bool debug_mode() const;

 private:
  // The runtime's ActorCore is the one kind of ActorRuntime there is: it
  // holds the state, and these methods forward to it.
  friend class ActorCore;
  ActorRuntime() = default;
  ~ActorRuntime() = default;
};

}  // namespace tether

#endif  // TETHER_ACTOR_RUNTIME_H_
