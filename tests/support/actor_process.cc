#include "tests/support/actor_process.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/listening_line.h"
#include "tests/support/test_token.h"

namespace tether {

std::string RunfilePath(absl::string_view path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return std::string(path);
  return absl::StrCat(srcdir, "/", workspace == nullptr ? "tether" : workspace,
                      "/", path);
}

absl::StatusOr<std::unique_ptr<ActorProcess>> ActorProcess::Start(
    const std::string& binary, std::vector<std::string> args,
    absl::Duration timeout) {
  bool has_listen = false;
  bool has_token_file = false;
  for (const std::string& arg : args) {
    has_listen = has_listen || absl::StartsWith(arg, "--listen");
    has_token_file = has_token_file || absl::StartsWith(arg, "--token_file");
  }
  if (!has_listen) args.push_back("--listen=127.0.0.1:0");
  if (!has_token_file) {
    args.push_back(absl::StrCat("--token_file=", TestTreeTokenFile()));
  }
  int stdout_fd = -1;
  absl::StatusOr<std::unique_ptr<SpawnedProcess>> process =
      SpawnedProcess::Start(binary, std::move(args), &stdout_fd);
  if (!process.ok()) return process.status();
  // On failure, destroying `process` kills and reaps the actor.
  absl::StatusOr<std::string> listening =
      ReadListeningAddress(stdout_fd, absl::Now() + timeout);
  close(stdout_fd);
  if (!listening.ok()) {
    return absl::Status(
        listening.status().code(),
        absl::StrCat(binary, ": ", listening.status().message()));
  }
  absl::StatusOr<Address> address = Address::Parse(*listening);
  if (!address.ok()) return address.status();
  return std::unique_ptr<ActorProcess>(
      new ActorProcess(*std::move(process), *std::move(address)));
}

}  // namespace tether
