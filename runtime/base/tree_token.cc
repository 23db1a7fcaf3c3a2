#include "runtime/base/tree_token.h"

#include <sys/random.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tether {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

TreeToken TreeToken::Generate() {
  char bytes[kSecretBytes];
  size_t filled = 0;
  while (filled < kSecretBytes) {
    const ssize_t n = getrandom(bytes + filled, kSecretBytes - filled, 0);
    if (n < 0) {
      // No kernel randomness: no secret worth having. A broken machine.
      std::perror("tether: getrandom");
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  return TreeToken(absl::BytesToHexString(absl::string_view(bytes, filled)));
}

absl::StatusOr<TreeToken> TreeToken::Parse(absl::string_view text) {
  const absl::string_view hex = absl::StripAsciiWhitespace(text);
  bool valid = hex.size() == 2 * kSecretBytes;
  for (char c : hex) valid = valid && absl::ascii_isxdigit(c);
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a tree token is ", 2 * kSecretBytes,
        " hexadecimal digits; this one is not (its text is not shown)"));
  }
  return TreeToken(absl::AsciiStrToLower(hex));
}

std::string TreeToken::AuthorizationValue() const {
  return absl::StrCat(kBearer, hex_);
}

bool TreeToken::Admits(absl::string_view authorization) const {
  const std::string expected = AuthorizationValue();
  // Every byte of `expected` is compared, and the length difference joins
  // the result, so the time says nothing about where they differ.
  uint8_t difference = authorization.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char presented = i < authorization.size() ? authorization[i] : 0;
    difference |= static_cast<uint8_t>(presented ^ expected[i]);
  }
  return difference == 0;
}

}  // namespace tether
