// File: tests/support/test_token.h
//
// The tree token of the test process: every actor a test runs, in its own
// process (tests/support/actor_process.h passes --token_file) or in the
// test's (ActorCore::SetToken), belongs to one tree with this token, so
// the test's clients reach them. Made on first use and written once to a
// private file in the test's temporary directory.
//
//   ActorCore runtime(identity);
//   runtime.SetToken(TestTreeToken());
//   ActorProcess::Start(binary, {"--token_file=" + TestTreeTokenFile()});
//
// Thread-safe.

#ifndef TETHER_TESTS_SUPPORT_TEST_TOKEN_H_
#define TETHER_TESTS_SUPPORT_TEST_TOKEN_H_

#include <string>

#include "runtime/base/tree_token.h"

namespace tether {

const TreeToken& TestTreeToken();

// The file that holds TestTreeToken(), mode 0600. Aborts the test process
// if it cannot be written: no test could reach its actors.
const std::string& TestTreeTokenFile();

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_TEST_TOKEN_H_
