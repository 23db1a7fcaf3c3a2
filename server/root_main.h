// File: server/root_main.h
//
// The main() of a program whose root actor runs `body`. The root serves
// tether.v1.Actor on a loopback port (so children and peers can reach it),
// prints `tether: actor NAME listening on ADDR` as nodes do, runs `body` as
// a task, and stops when it returns. SIGINT or SIGTERM
// cancels the body (and with it every nursery it opened, so the whole tree
// is torn down) and the program exits with the interrupt. In a child the
// root's program was re-executed as (see server/child_main.h), it runs that
// child actor instead.
//
//   int main(int argc, char** argv) {
//     return tether::RootMain(argc, argv, {}, [](ActorRuntime& root) {
//       return ActorNursery::Open(&root, [](ActorNursery& nursery) { ... });
//     });
//   }
//
// Exit codes: 0 when `body` returns OK; 1 when it fails (the error is
// printed); 130 after SIGINT, 143 after SIGTERM.

#ifndef TETHER_SERVER_ROOT_MAIN_H_
#define TETHER_SERVER_ROOT_MAIN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/actor_runtime.h"

namespace tether {

struct RootOptions {
  std::string name = "root";
  std::string listen = "127.0.0.1:0";
  // Registries the tree registers with (see client/registry.h for the
  // syntax). Empty: the root hosts the embedded registrar itself.
  std::vector<std::string> registry_addresses;
  // Debug mode for the whole tree (client/debugger.h).
  bool debug_mode = false;
};

int RootMain(int argc, char** argv, const RootOptions& options,
             const std::function<absl::Status(ActorRuntime& root)>& body);

}  // namespace tether

#endif  // TETHER_SERVER_ROOT_MAIN_H_
