#include "runtime/status_conversion.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"
#include "runtime/errors.h"
#include "tether/v1/error.pb.h"

namespace tether {

// Both enumerations are the canonical google.rpc.Code values, so a cast is a
// faithful conversion.
static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value()) return grpc::Status(code, std::move(message));

  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  details.add_details()->PackFrom(*info);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    return result;
  }
  for (const google::protobuf::Any& detail : details.details()) {
    v1::ErrorInfo info;
    if (detail.UnpackTo(&info)) {
      result.SetPayload(kErrorInfoTypeUrl, absl::Cord(detail.value()));
      break;
    }
  }
  return result;
}

}  // namespace tether
