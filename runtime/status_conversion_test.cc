#include "runtime/status_conversion.h"

#include <optional>
#include <string>

#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "runtime/errors.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {
namespace {

v1::ActorId Worker() {
  v1::ActorId id;
  id.set_name("worker");
  id.set_uuid("3f2a9c1e-0000-4000-8000-000000000001");
  return id;
}

TEST(StatusConversionTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToAbslStatus(grpc::Status::OK).ok());
}

TEST(StatusConversionTest, CodeAndMessageSurviveBothWays) {
  const absl::Status original = absl::NotFoundError("no such actor");
  const grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(wire.error_message(), "no such actor");
  EXPECT_EQ(ToAbslStatus(wire), original);
}

TEST(StatusConversionTest, EveryCanonicalCodeMapsToItsTwin) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "x");
    EXPECT_EQ(static_cast<int>(ToGrpcStatus(status).error_code()), code);
    EXPECT_EQ(ToAbslStatus(ToGrpcStatus(status)), status);
  }
}

TEST(StatusConversionTest, PlainStatusHasNoDetails) {
  EXPECT_EQ(ToGrpcStatus(absl::InternalError("x")).error_details(), "");
}

TEST(StatusConversionTest, ErrorInfoTravelsInRichDetails) {
  const absl::Status original =
      ContextCancelledError(Worker(), Worker(), "cancelled by opener");
  const grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(wire.error_message(), "cancelled by opener");

  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(wire.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::CANCELLED));
  EXPECT_EQ(details.message(), "cancelled by opener");
  ASSERT_EQ(details.details_size(), 1);
  EXPECT_EQ(details.details(0).type_url(), kErrorInfoTypeUrl);
  v1::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.type(), "tether.ContextCancelled");
  EXPECT_EQ(info.canceller().name(), "worker");
}

TEST(StatusConversionTest, ErrorInfoRoundTrips) {
  const absl::Status original = MakeError(
      BoxStatus(absl::FailedPreconditionError("disk full"), Worker()));
  const absl::Status back = ToAbslStatus(ToGrpcStatus(original));
  EXPECT_EQ(back, original);
  EXPECT_EQ(back.code(), absl::StatusCode::kAborted);
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(back);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->type(), "absl::StatusCode::kFailedPrecondition");
  EXPECT_EQ(info->source().uuid(), Worker().uuid());
  EXPECT_FALSE(IsRemoteError(back, Worker()));
}

TEST(StatusConversionTest, ErrorInfoFoundAmongOtherDetails) {
  google::rpc::Status details;
  details.add_details()->PackFrom(Worker());
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_PROTOCOL);
  info.set_type("tether.ProtocolError");
  details.add_details()->PackFrom(info);
  const absl::Status back =
      ToAbslStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad frame",
                                details.SerializeAsString()));
  EXPECT_EQ(back.message(), "bad frame");
  EXPECT_TRUE(IsProtocolError(back));
}

TEST(StatusConversionTest, MalformedDetailsAreIgnored) {
  google::rpc::Status bad_info;
  google::protobuf::Any* any = bad_info.add_details();
  any->set_type_url(std::string(kErrorInfoTypeUrl));
  any->set_value("\xff\xff\xff");
  google::rpc::Status no_info;
  no_info.add_details()->PackFrom(Worker());

  for (const std::string& details :
       {std::string("\xff\xff not a proto"), bad_info.SerializeAsString(),
        no_info.SerializeAsString()}) {
    const absl::Status back =
        ToAbslStatus(grpc::Status(grpc::StatusCode::ABORTED, "boom", details));
    EXPECT_EQ(back, absl::AbortedError("boom"));
    EXPECT_FALSE(GetErrorInfo(back).has_value());
  }
}

}  // namespace
}  // namespace tether
