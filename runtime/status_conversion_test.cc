#include "runtime/status_conversion.h"

#include "gtest/gtest.h"

namespace tether {
namespace {

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

}  // namespace
}  // namespace tether
