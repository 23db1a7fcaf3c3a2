// File: tether/errors.h
//
// Errors as values. A Tether error is an absl::Status carrying a
// tether.v1.ErrorInfo (kind, boxed type name, source actor, relay path,
// canceller, sender, group members) as a status payload under
// kErrorInfoTypeUrl. The status code follows the kind, so code that only
// looks at codes still does the right thing; code that cares asks
// GetErrorInfo() or a predicate such as IsContextCancelled().
//
//   absl::Status Run(const v1::ActorId& self) {
//     try {
//       return UserFunction();
//     } catch (const std::exception& e) {
//       return MakeError(BoxException(e, self));  // "std::runtime_error: boom"
//     }
//   }
//
//   // Relaying an error received from a peer:
//   v1::ErrorInfo relayed = BoxStatus(status, self);  // appends self
//
//   if (IsContextCancelled(status)) { ... }
//   TETHER_LOG(kError) << DescribeError(status);
//
// Functions only; thread-safe.

#ifndef TETHER_ERRORS_H_
#define TETHER_ERRORS_H_

#include <cstddef>
#include <exception>
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

// Runtime errors. Each sets kind, type (the k...Type above), message and
// source, and starts the relay path at the source.
//
// The context's task in `source` was cancelled at `canceller`'s request
// (leave `canceller` empty when no actor asked).
[[nodiscard]] absl::Status ContextCancelledError(const v1::ActorId& canceller,
                                                 const v1::ActorId& source,
                                                 absl::string_view message);
// `source`'s receive buffer of `buffer_size` values overflowed with data
// from `sender`.
[[nodiscard]] absl::Status StreamOverrunError(const v1::ActorId& sender,
                                              const v1::ActorId& source,
                                              size_t buffer_size);
// A peer broke the per-context state machine; `source` detected it.
[[nodiscard]] absl::Status ProtocolError(const v1::ActorId& source,
                                         absl::string_view message);
// The link to the peer broke. Observed locally, so it has no source actor.
[[nodiscard]] absl::Status TransportClosedError(absl::string_view message);
// `function` is not registered in `source`.
[[nodiscard]] absl::Status NoSuchFunctionError(const v1::ActorId& source,
                                               absl::string_view function);
// The arguments do not fit `function`; the message reads
// "<function>: <message>".
[[nodiscard]] absl::Status BadArgumentError(const v1::ActorId& source,
                                            absl::string_view function,
                                            absl::string_view message);
// The actor process `actor` failed outside any context (boot failure, exit
// code, signal).
[[nodiscard]] absl::Status ActorFailureError(const v1::ActorId& actor,
                                             absl::string_view message);

// Kind tests; false for a status without ErrorInfo.
bool IsContextCancelled(const absl::Status& status);
bool IsStreamOverrun(const absl::Status& status);
bool IsProtocolError(const absl::Status& status);
bool IsTransportClosed(const absl::Status& status);
// True when the error was raised in another actor: it has ErrorInfo whose
// source has a uuid other than self's. An error without ErrorInfo or without
// a source (TransportClosedError) was observed here, so it is not remote.
bool IsRemoteError(const absl::Status& status, const v1::ActorId& self);

// `info` with `relayer` appended to its relay path, unless the path already
// ends with it (same uuid).
v1::ErrorInfo WithRelay(v1::ErrorInfo info, const v1::ActorId& relayer);

// The ErrorInfo to send on for a failed `status` in actor `self`. A Tether
// error keeps its ErrorInfo, relayed through `self` (WithRelay). Any other
// status is boxed as an APPLICATION error of type
// "absl::StatusCode::k<Name>" (e.g. "absl::StatusCode::kFailedPrecondition")
// with the status message, source `self` and relay path [self]; its code
// becomes kAborted at the receiver.
// REQUIRES: !status.ok() (aborts otherwise).
v1::ErrorInfo BoxStatus(const absl::Status& status, const v1::ActorId& self);

// An exception thrown by user code in `self`: APPLICATION, type is the
// demangled dynamic type (e.g. "std::runtime_error"), message is what().
v1::ErrorInfo BoxException(const std::exception& e, const v1::ActorId& self);
// For `catch (...)`: the type is the demangled type of the exception being
// handled (e.g. "int" for `throw 42`), or "unknown exception" when called
// outside a handler.
v1::ErrorInfo BoxUnknownException(const v1::ActorId& self);

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
