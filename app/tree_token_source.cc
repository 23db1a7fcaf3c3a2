#include "app/tree_token_source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/process/local_roots.h"
#include "runtime/process/private_files.h"

namespace tether {

absl::StatusOr<TreeToken> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPrivateFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<TreeToken> token = TreeToken::Parse(*text);
  if (!token.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", token.status().message()));
  }
  return token;
}

absl::StatusOr<TreeToken> TreeTokenFor(
    const std::vector<std::string>& registry_addresses,
    const std::string& token_file) {
  if (!token_file.empty()) return ReadTokenFile(token_file);
  for (const std::string& registry : registry_addresses) {
    if (absl::StartsWith(registry, "etcd://")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "registering in etcd (", registry,
          ") makes the actor findable from other machines, whose calls "
          "must carry the tree's token: give the token in a file "
          "(docs/security.md)"));
    }
    absl::StatusOr<std::vector<LocalRoot>> roots = ListLocalRoots();
    if (!roots.ok()) return roots.status();
    for (const LocalRoot& root : *roots) {
      if (root.address == registry) return root.token;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "joining the tree of the registrar at ", registry,
        " needs its token, and no root of this user's on this machine "
        "serves there: give it with --token_file (docs/security.md)"));
  }
  return TreeToken::Generate();
}

}  // namespace tether
