// actor_node: a standalone actor serving the interop set
// (server/interop_functions.cc). See server/node_main.h for its flags.

#include "server/node_main.h"

int main(int argc, char** argv) { return tether::ActorNodeMain(argc, argv); }
