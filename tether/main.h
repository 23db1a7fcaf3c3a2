// File: tether/main.h
//
// The main() of a Tether program. Every actor of a tree runs the same
// binary: RootMain runs the root actor, and the same program re-executed by
// a nursery (tether/nursery.h) becomes the child actor it was spawned as,
// so every function registered in the program exists in every actor.
//
// clang-format off
// Example:
//
//   absl::Status Body(tether::ActorRuntime& root) {
//     return tether::ActorNursery::Open(
//         &root, [](tether::ActorNursery& nursery) -> absl::Status {
//           TETHER_ASSIGN_OR_RETURN(tether::Portal * worker,
//                                   nursery.StartActor("worker"));
//           TETHER_ASSIGN_OR_RETURN(tether::Value pong,
//                                   worker->Run("ping", tether::Value()));
//           std::printf("%s\n", pong.ToJson().c_str());
//           nursery.CancelAll();
//           return absl::OkStatus();
//         });
//   }
//
//   int main(int argc, char** argv) {
//     tether::RootOptions options;
//     options.name = "example";
//     return tether::RootMain(argc, argv, options, Body);
//   }
// clang-format on
//
// RootMain serves the root actor on a loopback port (so its children and
// peers can reach it), prints `tether: actor NAME listening on ADDR` as
// nodes do, runs `body` as a task and stops when it returns. SIGINT or
// SIGTERM cancels the body (and with it every nursery it opened, so the
// whole tree is torn down) and the program exits with the interrupt. Exit
// codes: 0 when `body` returns OK; 1 when it fails (the error is printed);
// 130 after SIGINT, 143 after SIGTERM.
//
// ActorNodeMain is the main() of an actor node that only serves: a binary
// that registers its own functions and serves them to peers, as
// `actor_node` (app/) serves the interop set. Flags: --name, --listen,
// --registry, --debug, --log_level, --token_file (see --help). Without
// --registry the node hosts the embedded registrar. It prints the same
// listening line; SIGINT, SIGTERM or an Actor/Cancel request stop it (exit 0).
// Bad flags or an address it cannot listen on give one line on stderr and
// exit 2.
//
// A program with a main() of its own calls RunAsChildIfSpawned first: in a
// process a nursery spawned, it runs that child actor and returns its exit
// code. RootMain and ActorNodeMain call it themselves.
//
// Thread-safety: each function is called once, from main().

#ifndef TETHER_MAIN_H_
#define TETHER_MAIN_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tether/actor_runtime.h"

namespace tether {

struct RootOptions {
  std::string name = "root";
  std::string listen = "127.0.0.1:0";
  // Registries the tree registers with: "host:port" or "unix:/path" of a
  // tether.v1.Registrar, or "etcd://host:port". Empty: the root hosts the
  // embedded registrar itself.
  std::vector<std::string> registry_addresses;
  // Debug mode for the whole tree (tether/debugger.h).
  bool debug_mode = false;
  // A file holding the tree's token (64 hex digits, mode 0600), which
  // every call within the tree carries (docs/security.md). Empty: a root
  // that joins another root's registrar on this machine takes that tree's
  // token; one that does not makes a fresh one.
  std::string token_file;
};

// Runs the root actor with `body`; returns the process's exit code.
int RootMain(int argc, char** argv, const RootOptions& options,
             const std::function<absl::Status(ActorRuntime& root)>& body);

// Runs an actor node that serves the program's registered functions until
// it is stopped; returns the process's exit code.
int ActorNodeMain(int argc, char** argv);

// The exit code of the child actor this process was spawned as, once it
// has run; nullopt when this process is not a spawned child (the
// environment names no spawn spec).
std::optional<int> RunAsChildIfSpawned(int argc, char** argv);

}  // namespace tether

#endif  // TETHER_MAIN_H_
