// File: server/child_main.h
//
// Child mode of any Tether program: when the process was started by
// Spawner (runtime/spawner.h), it becomes the child actor its spec
// describes: it serves on the spec's address (an ephemeral loopback port by
// default), reports its address and pid to the parent, and lives until it
// is cancelled, signalled, its parent dies (PR_SET_PDEATHSIG) or its
// parent's server stays unreachable (server/parent_watch.h).
//
//   int main(int argc, char** argv) {
//     if (std::optional<int> code = tether::RunAsChildIfSpawned(argc, argv)) {
//       return *code;
//     }
//     ...  // the program's own main
//   }
//
// ActorNodeMain and RootMain call it first, so their programs need not.

#ifndef TETHER_SERVER_CHILD_MAIN_H_
#define TETHER_SERVER_CHILD_MAIN_H_

#include <optional>

namespace tether {

// Runs the child actor and returns its exit code if this process is a
// spawned child; nullopt otherwise (the environment names no spec).
std::optional<int> RunAsChildIfSpawned(int argc, char** argv);

}  // namespace tether

#endif  // TETHER_SERVER_CHILD_MAIN_H_
