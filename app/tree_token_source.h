// File: app/tree_token_source.h
//
// Where a program that runs actors gets its tree's token (docs/security.md):
//
//   - from a token file, when it is given one (--token_file, or
//     RootOptions::token_file): 64 hex digits, in a file of this user's
//     that group and others cannot read;
//   - else, when it joins another root's registrar, from that root's
//     record on this machine (runtime/process/local_roots.h): the same
//     user's roots share their trees with their own programs;
//   - else, when it hosts the registrar, it is the root of a tree of its
//     own and makes a fresh token.
//
// An actor that registers in etcd needs the token file: the actors that
// find it there may run on other machines, and only a file shared
// deliberately gives them the same token.
//
//   absl::StatusOr<TreeToken> token =
//       TreeTokenFor(registry_addresses, token_file);
//   if (!token.ok()) { /* says which file or registrar, and what to do */ }
//
// Thread-safe.

#ifndef TETHER_APP_TREE_TOKEN_SOURCE_H_
#define TETHER_APP_TREE_TOKEN_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/base/tree_token.h"

namespace tether {

absl::StatusOr<TreeToken> TreeTokenFor(
    const std::vector<std::string>& registry_addresses,
    const std::string& token_file);

// The token in `path`, a private file (runtime/process/private_files.h).
absl::StatusOr<TreeToken> ReadTokenFile(const std::string& path);

}  // namespace tether

#endif  // TETHER_APP_TREE_TOKEN_SOURCE_H_
