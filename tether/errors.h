// File: tether/errors.h
//
// Errors as values. A Tether error is an absl::Status carrying a
// tether.v1.ErrorInfo (kind, boxed type name, source actor, relay path,
// canceller, sender, group members) as a status payload under
// kErrorInfoTypeUrl. The status code follows the kind, so code that only
// looks at codes still does the right thing; code that cares asks
// GetErrorInfo() or a predicate such as IsContextCancelled(). A function's
// plain absl::Status errors and thrown exceptions are boxed into
// ErrorInfo by the runtime before they travel.
//
// clang-format off
// Example:
//
//   // Runs `job` on `worker` and says where a failure came from.
//   void Report(Portal& worker) {
//     absl::StatusOr<Value> result = worker.Run("job", Value());
//     if (result.ok()) return;
//     if (IsContextCancelled(result.status())) {
//       std::printf("cancelled\n");
//       return;
//     }
//     std::optional<v1::ErrorInfo> info = GetErrorInfo(result.status());
//     if (info.has_value()) {
//       std::printf("%s raised in %s\n", info->type().c_str(),
//                   info->source().name().c_str());
//     }
//     std::printf("%s\n", DescribeError(result.status()).c_str());
//   }
// clang-format on
//
// Thread-safety: functions only; thread-safe.

#ifndef TETHER_ERRORS_H_
#define TETHER_ERRORS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {

// Status payload key of the serialized ErrorInfo.
inline constexpr absl::string_view kErrorInfoTypeUrl =
    "type.googleapis.com/tether.v1.ErrorInfo";

// ErrorInfo.type of the runtime's own errors.
inline constexpr absl::string_view kContextCancelledType =
    "tether.ContextCancelled";
inline constexpr absl::string_view kStreamOverrunType = "tether.StreamOverrun";
inline constexpr absl::string_view kProtocolErrorType = "tether.ProtocolError";
inline constexpr absl::string_view kTransportClosedType =
    "tether.TransportClosed";
inline constexpr absl::string_view kNoSuchFunctionType =
    "tether.NoSuchFunction";
inline constexpr absl::string_view kBadArgumentType = "tether.BadArgument";
inline constexpr absl::string_view kActorFailureType = "tether.ActorFailure";
inline constexpr absl::string_view kErrorGroupType = "tether.ErrorGroup";

// The status for `info`, with `info` attached. Code by kind:
//   CONTEXT_CANCELLED       kCancelled
//   STREAM_OVERRUN          kResourceExhausted
//   PROTOCOL, BAD_ARGUMENT  kInvalidArgument
//   NO_SUCH_FUNCTION        kNotFound
//   APPLICATION, GROUP      kAborted
//   TRANSPORT_CLOSED        kUnavailable
//   ACTOR_FAILURE           kInternal
//   anything else           kUnknown
// The message is info.message(), except for APPLICATION errors, where it is
// "<type>: <message>" (e.g. "std::runtime_error: boom") because the boxed
// type is the only trace of the original error's class.
[[nodiscard]] absl::Status MakeError(const v1::ErrorInfo& info);

// The ErrorInfo `status` carries; nullopt when it has none (or an
// unparsable one).
std::optional<v1::ErrorInfo> GetErrorInfo(const absl::Status& status);

// Kind tests; false for a status without ErrorInfo.
bool IsContextCancelled(const absl::Status& status);
bool IsStreamOverrun(const absl::Status& status);
bool IsProtocolError(const absl::Status& status);
bool IsTransportClosed(const absl::Status& status);
// True when the error was raised in another actor: it has ErrorInfo whose
// source has a uuid other than self's. An error without ErrorInfo or without
// a source (TransportClosedError) was observed here, so it is not remote.
bool IsRemoteError(const absl::Status& status, const v1::ActorId& self);

// Several errors from one scope (one-cancels-all), as one status. OK entries
// are skipped. None left: OK. One: that status, unchanged. Several: a GROUP
// error raised at `source` whose members are each error's ErrorInfo (plain
// statuses boxed with BoxStatus), message "N errors: <m1>; <m2>; ...".
absl::Status ErrorGroup(std::vector<absl::Status> errors,
                        const v1::ActorId& source);

// A readable multi-line description for logs and CLIs, e.g.
//
//   std::runtime_error: boom
//     source: worker[3f2a9c1e]
//     relay path: root[0b7d44e2] <- worker[3f2a9c1e]
//     function: compute
//
// Actors print as name[first 8 uuid characters]. The relay path is printed
// newest first, so arrows point the way the error travelled from its source
// (rightmost). Also shown when set: context, canceller, sender, trace, and
// group members, numbered and indented. A status without ErrorInfo prints as
// "absl::StatusCode::k<Name>: <message>"; OK as "OK". No trailing newline.
std::string DescribeError(const absl::Status& status);

}  // namespace tether

#endif  // TETHER_ERRORS_H_
