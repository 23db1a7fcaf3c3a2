// File: server/node_main.h
//
// The main() of an actor node, as a library: binaries that register their
// own functions (the interop set, test actors) link it and call it.
//
//   int main(int argc, char** argv) { return tether::ActorNodeMain(argc, argv);
//   }
//
// Flags: --name, --listen, --registry, --log_level (see --help). Without
// --registry the node hosts the embedded registrar (see
// server/actor_server.h). Prints
// `tether: actor NAME listening on ADDR` on stdout once it serves; SIGINT,
// SIGTERM or an Actor/Cancel request stop it (exit 0). Bad flags or an
// address it cannot listen on give one line on stderr and exit 2 (abseil's
// own flag errors exit 1).

#ifndef TETHER_SERVER_NODE_MAIN_H_
#define TETHER_SERVER_NODE_MAIN_H_

namespace tether {

int ActorNodeMain(int argc, char** argv);

}  // namespace tether

#endif  // TETHER_SERVER_NODE_MAIN_H_
