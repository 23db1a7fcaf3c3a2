// File: actorctl/actorctl_commands.h
//
// The subcommands of actorctl (actorctl/actorctl.cc), one function each. Each
// writes its normal output to stdout (human-readable, or JSON with
// `json`) and returns the process exit code:
//   0  success
//   1  the remote side failed (printed with boxed type, source and relay
//      path)
//   2  usage or connection errors (one line on stderr)

#ifndef TETHER_ACTORCTL_ACTORCTL_COMMANDS_H_
#define TETHER_ACTORCTL_ACTORCTL_COMMANDS_H_

#include <string>

#include "absl/time/time.h"
#include "runtime/actor/actor_core.h"
#include "runtime/process/shutdown_signal.h"

namespace tether {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRemoteError = 1;
inline constexpr int kExitUsage = 2;

struct CtlOptions {
  bool json = false;
  absl::Duration timeout = absl::Seconds(5);
};

// `self` is actorctl's own (non-serving) actor; its registry addresses are
// the registry to use, its token the tree's.
int ListActors(ActorCore& self, const CtlOptions& options);
int ShowTree(ActorCore& self, const CtlOptions& options);
int ShowInfo(ActorCore& self, const std::string& name,
             const CtlOptions& options);
int CallFunction(ActorCore& self, const std::string& name,
                 const std::string& function, const std::string& args_json,
                 const CtlOptions& options);
// Opens a context; prints Started and every received value as JSON lines,
// sends every JSON line of stdin (end of input closes this side), and
// cancels the context when `interrupt` fires (SIGINT).
int StreamFunction(ActorCore& self, const std::string& name,
                   const std::string& function, const std::string& args_json,
                   ShutdownSignal* interrupt, const CtlOptions& options);
int CancelActor(ActorCore& self, const std::string& name,
                const CtlOptions& options);
// Prints the tree's token (self's), for clients of other languages and
// grpcurl.
int PrintToken(const ActorCore& self);

// Prints a one-line error on stderr and returns kExitUsage.
int UsageError(const std::string& message);

}  // namespace tether

#endif  // TETHER_ACTORCTL_ACTORCTL_COMMANDS_H_
