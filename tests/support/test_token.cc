#include "tests/support/test_token.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/process/private_files.h"

namespace tether {
namespace {

struct TokenAndFile {
  TreeToken token = TreeToken::Generate();
  std::string file;
};

const TokenAndFile& Get() {
  static const TokenAndFile* const made = [] {
    auto* result = new TokenAndFile;
    const char* directory = std::getenv("TEST_TMPDIR");
    result->file = absl::StrCat(
        directory != nullptr && directory[0] != '\0' ? directory : "/tmp",
        "/tether-test-token-", getpid());
    const absl::Status written =
        WritePrivateFile(result->file, result->token.SecretForTransfer());
    if (!written.ok()) {
      std::fprintf(stderr, "test_token: %s\n",
                   std::string(written.message()).c_str());
      std::abort();
    }
    return result;
  }();
  return *made;
}

}  // namespace

const TreeToken& TestTreeToken() { return Get().token; }

const std::string& TestTreeTokenFile() { return Get().file; }

}  // namespace tether
