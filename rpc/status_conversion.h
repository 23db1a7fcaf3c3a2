// File: rpc/status_conversion.h
//
// The one place where absl::Status and grpc::Status meet. Servers answer with
// ToGrpcStatus(); clients turn what they receive into absl::Status with
// ToAbslStatus(). Status codes share numeric values in both libraries.
//
// A Tether error (an absl::Status carrying tether.v1.ErrorInfo, see
// tether/errors.h) also travels in gRPC's rich error details: a serialized
// google.rpc.Status {code, message, details: [Any(ErrorInfo)]}, which grpc++
// sends as the grpc-status-details-bin trailer, so any gRPC client can read
// the boxed type, source and relay path.
//
//   grpc::Status wire = ToGrpcStatus(absl::NotFoundError("no such actor"));
//   absl::Status back = ToAbslStatus(wire);   // NotFound, same message
//
//   grpc::Status rich = ToGrpcStatus(ProtocolError(self, "two Started"));
//   GetErrorInfo(ToAbslStatus(rich))->type();  // "tether.ProtocolError"
//
// Functions only; thread-safe.

#ifndef TETHER_RPC_STATUS_CONVERSION_H_
#define TETHER_RPC_STATUS_CONVERSION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "runtime/base/runtime_errors.h"

namespace tether {

// A gRPC peer refuses trailers above its metadata limit (8 KB by default in
// gRPC C-core and the languages built on it), and the call's status then
// becomes RESOURCE_EXHAUSTED. So the trailers carry at most this much of the
// message, and an ErrorInfo cut down to this size (long strings first, then
// long lists). Where a status ends a context, the Error frame before it
// carries the whole error.
inline constexpr size_t kMaxTrailerMessageBytes = 512;
inline constexpr size_t kMaxTrailerErrorInfoBytes = 1536;

// Same code and message, the message cut to kMaxTrailerMessageBytes. When
// `status` carries an ErrorInfo, error_details is set as described above;
// other status payloads are not carried.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same code and message. An ErrorInfo found in error_details is attached
// again; error_details that do not parse, or hold no ErrorInfo, are ignored.
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace tether

#endif  // TETHER_RPC_STATUS_CONVERSION_H_
