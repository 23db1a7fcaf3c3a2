// The main() of every discovery test binary
// (tests/discovery/discovery_test_fixture.h). The binary is both the root actor
// that runs the tests and, re-executed by the Spawner, each of its nursery
// children, which only serve.

#include <optional>

#include "gtest/gtest.h"
#include "tether/main.h"

int main(int argc, char** argv) {
  if (std::optional<int> code = tether::RunAsChildIfSpawned(argc, argv)) {
    return *code;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
