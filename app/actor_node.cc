// actor_node: a standalone actor serving the interop set
// (app/interop_functions.cc). See tether/main.h for its flags.

#include "tether/main.h"

int main(int argc, char** argv) { return tether::ActorNodeMain(argc, argv); }
