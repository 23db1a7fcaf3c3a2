// File: runtime/status_conversion.h
//
// The one place where absl::Status and grpc::Status meet. Servers answer with
// ToGrpcStatus(); clients turn what they receive into absl::Status with
// ToAbslStatus(). Status codes share numeric values in both libraries.
//
//   grpc::Status wire = ToGrpcStatus(absl::NotFoundError("no such actor"));
//   absl::Status back = ToAbslStatus(wire);   // NotFound, same message

#ifndef TETHER_RUNTIME_STATUS_CONVERSION_H_
#define TETHER_RUNTIME_STATUS_CONVERSION_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace tether {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace tether

#endif  // TETHER_RUNTIME_STATUS_CONVERSION_H_
