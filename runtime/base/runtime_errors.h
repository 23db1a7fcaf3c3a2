// File: runtime/base/runtime_errors.h
//
// The runtime's own errors (tether/errors.h has the types and predicates
// users see), and the boxing that turns any failure into the ErrorInfo a
// peer receives: a plain absl::Status, a thrown exception, an error
// relayed on from another actor.
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
// Functions only; thread-safe.

#ifndef TETHER_RUNTIME_BASE_RUNTIME_ERRORS_H_
#define TETHER_RUNTIME_BASE_RUNTIME_ERRORS_H_

#include <cstddef>
#include <exception>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tether/errors.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {

// Runtime errors. Each sets kind, type (the k...Type of tether/errors.h),
// message and source, and starts the relay path at the source.
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

}  // namespace tether

#endif  // TETHER_RUNTIME_BASE_RUNTIME_ERRORS_H_
