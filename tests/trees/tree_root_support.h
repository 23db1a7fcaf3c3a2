// File: tests/trees/tree_root_support.h
//
// What the two halves of tests/tree_root share: the root's scenarios
// (tests/trees/tree_root.cc) and the functions its children serve
// (tests/trees/tree_root_functions.cc). Outcomes are reported as short strings
// the test can compare: an error's kind, the canceller's uuid.
//
//   Observe("stream_error_kind", KindOf(ended));  // in a scenario
//
// Thread-compatible: plain functions over their arguments.

#ifndef TETHER_TESTS_TREES_TREE_ROOT_SUPPORT_H_
#define TETHER_TESTS_TREES_TREE_ROOT_SUPPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/context.h"
#include "tether/msg_stream.h"
#include "tether/value.h"

namespace tether::tree_root {

// How long a scenario waits for anything before it reports a hang instead.
inline constexpr absl::Duration kScenarioDeadline = absl::Seconds(20);

// "ERROR_KIND_CONTEXT_CANCELLED", "OK", or "untyped:<code>" for a status
// without ErrorInfo.
std::string KindOf(const absl::Status& status);

// The canceller's uuid an error carries, or "unset".
std::string ErrorCanceller(const absl::Status& status);

// The canceller's uuid a context recorded, or "unset".
std::string ContextCanceller(const Context& ctx);

// An application error raised in this actor, boxed as `type`.
absl::Status ApplicationError(absl::string_view type,
                              absl::string_view message);

absl::StatusOr<int64_t> IntField(const Value& value, absl::string_view name);

// Sleeps until the calling task is cancelled; returns the reason.
absl::Status SleepUntilCancelled();

// Receives from `stream`, each value within kScenarioDeadline, until it
// ends; counts the values in `*received` and returns how it ended.
absl::Status ReceiveUntilEnd(MsgStream& stream, int64_t* received);

}  // namespace tether::tree_root

#endif  // TETHER_TESTS_TREES_TREE_ROOT_SUPPORT_H_
