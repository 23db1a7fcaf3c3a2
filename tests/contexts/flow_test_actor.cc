// The callee actor of the overrun, backpressure and protocol-violation
// tests: actor_node's main() serving the functions of
// tests/contexts/flow_test_functions.cc.

#include "tether/main.h"

int main(int argc, char** argv) { return tether::ActorNodeMain(argc, argv); }
