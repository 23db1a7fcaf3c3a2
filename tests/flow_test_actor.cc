// The callee actor of the overrun, backpressure and protocol-violation
// tests: actor_node's main() serving the functions of
// tests/flow_test_functions.cc.

#include "server/node_main.h"

int main(int argc, char** argv) { return tether::ActorNodeMain(argc, argv); }
