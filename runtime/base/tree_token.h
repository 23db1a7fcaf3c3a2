// File: runtime/base/tree_token.h
//
// The secret of one actor tree. A tree is a trust domain: its root makes a
// random 256-bit token (or reads one from a file), its children receive it
// through their spawn spec, and every Tether call within the tree carries it
// as `authorization: Bearer <token>` metadata; a call without it is refused
// before anything runs (server/, docs/security.md).
//
//   const TreeToken token = TreeToken::Generate();
//   context.AddMetadata("authorization", token.AuthorizationValue());
//   ...
//   if (!token.Admits(presented_header_value)) { /* UNAUTHENTICATED */ }
//
// The token is never printed: there is no operator<<, and the one accessor
// of the secret says what it is for. Thread-compatible value type.

#ifndef TETHER_RUNTIME_BASE_TREE_TOKEN_H_
#define TETHER_RUNTIME_BASE_TREE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether {

class TreeToken {
 public:
  // 256 random bits from the kernel (getrandom), as 64 lowercase hex
  // digits.
  static TreeToken Generate();

  // A token as written in a token file: 64 hex digits, surrounding white
  // space ignored. InvalidArgument otherwise (the message never quotes
  // the text).
  static absl::StatusOr<TreeToken> Parse(absl::string_view text);

  // The value of the authorization metadata that carries it:
  // "Bearer <hex>".
  std::string AuthorizationValue() const;

  // Whether `authorization` (a call's metadata value) carries this token.
  // Takes the same time whatever it is compared with, to the first
  // difference or not.
  bool Admits(absl::string_view authorization) const;

  // The hex digits, for a token file or a child's spawn spec only.
  const std::string& SecretForTransfer() const { return hex_; }

 private:
  explicit TreeToken(std::string hex) : hex_(std::move(hex)) {}

  std::string hex_;
};

}  // namespace tether

#endif  // TETHER_RUNTIME_BASE_TREE_TOKEN_H_
