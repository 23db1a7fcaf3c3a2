// File: tether/status_macros.h
//
// Early-return helpers for absl::Status and absl::StatusOr<T>, which every
// Tether call returns. abseil 20220623 (Debian 12) ships none of its own.
//
// clang-format off
// Example:
//
//   // Returns the first error; otherwise the parsed address with its port.
//   absl::StatusOr<Address> ParseWithPort(absl::string_view text, int port) {
//     TETHER_ASSIGN_OR_RETURN(Address parsed, Address::Parse(text));
//     TETHER_RETURN_IF_ERROR(CheckCancelled());
//     return parsed.WithPort(port);
//   }
// clang-format on
//
// Thread-safety: macros; they add no state.

#ifndef TETHER_STATUS_MACROS_H_
#define TETHER_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns `expr`'s status from the enclosing function unless it is OK.
#define TETHER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    const ::absl::Status tether_status_ = (expr);    \
    if (!tether_status_.ok()) return tether_status_; \
  } while (false)

#define TETHER_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define TETHER_STATUS_MACROS_CONCAT_(a, b) \
  TETHER_STATUS_MACROS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status from the
// enclosing function on error, otherwise moves the value into `lhs`, which may
// be a declaration ("Address a") or an existing variable.
#define TETHER_ASSIGN_OR_RETURN(lhs, rexpr) \
  TETHER_ASSIGN_OR_RETURN_IMPL_(            \
      TETHER_STATUS_MACROS_CONCAT_(tether_statusor_, __LINE__), lhs, rexpr)

#define TETHER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = *std::move(statusor)

#endif  // TETHER_STATUS_MACROS_H_
