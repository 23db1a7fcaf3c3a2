#include "runtime/base/tree_token.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/secrets.h"

namespace tether {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

TreeToken TreeToken::Generate() { return TreeToken(RandomHex(kSecretBytes)); }

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
  return SecretsEqual(authorization, AuthorizationValue());
}

}  // namespace tether
