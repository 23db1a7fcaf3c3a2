#include "rpc/status_conversion.h"

#include <optional>
#include <string>

#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "runtime/base/runtime_errors.h"
#include "tether/errors.h"
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

// The ErrorInfo the trailer of `wire` carries.
v1::ErrorInfo TrailerInfo(const grpc::Status& wire) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(wire.error_details()));
  v1::ErrorInfo info;
  EXPECT_EQ(details.details_size(), 1);
  if (details.details_size() == 1) {
    EXPECT_TRUE(details.details(0).UnpackTo(&info));
  }
  return info;
}

// Trailers above a peer's metadata limit (8 KB by default) would turn the
// status into RESOURCE_EXHAUSTED: what they carry is cut to fit, and what
// fits already is left alone.
TEST(StatusConversionTest, LongMessagesAndTracesAreCutToFitATrailer) {
  v1::ErrorInfo info =
      BoxStatus(absl::FailedPreconditionError("short"), Worker());
  info.set_message(std::string(20000, 'm'));
  info.set_trace(std::string(20000, 't'));
  const grpc::Status wire = ToGrpcStatus(
      absl::Status(absl::StatusCode::kAborted, std::string(20000, 'm')));
  EXPECT_EQ(wire.error_message().size(), kMaxTrailerMessageBytes);
  EXPECT_EQ(wire.error_message().substr(kMaxTrailerMessageBytes - 4), "m...");

  const grpc::Status rich = ToGrpcStatus(MakeError(info));
  EXPECT_EQ(rich.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_LE(rich.error_message().size(), kMaxTrailerMessageBytes);
  const v1::ErrorInfo cut = TrailerInfo(rich);
  EXPECT_LE(cut.ByteSizeLong(), kMaxTrailerErrorInfoBytes);
  EXPECT_EQ(cut.kind(), info.kind());
  EXPECT_EQ(cut.type(), info.type());
  EXPECT_EQ(cut.source().uuid(), Worker().uuid());
  EXPECT_EQ(cut.message().substr(0, 100), std::string(100, 'm'));
  EXPECT_EQ(cut.trace().substr(0, 100), std::string(100, 't'));

  const v1::ErrorInfo small =
      BoxStatus(absl::FailedPreconditionError("short"), Worker());
  EXPECT_EQ(TrailerInfo(ToGrpcStatus(MakeError(small))).SerializeAsString(),
            small.SerializeAsString());
}

// Lists are cut too once strings alone are not enough, and a cut never
// splits a UTF-8 character.
TEST(StatusConversionTest, LongListsAreCutAndCutsKeepUtf8Whole) {
  v1::ErrorInfo info =
      BoxStatus(absl::FailedPreconditionError("short"), Worker());
  for (int i = 0; i < 500; ++i) *info.add_relay_path() = Worker();
  const v1::ErrorInfo nested = info;
  for (int i = 0; i < 50; ++i) *info.add_errors() = nested;
  info.set_message(std::string(3000, 'a') + "\u00e9\u00e9\u00e9");
  const v1::ErrorInfo cut = TrailerInfo(ToGrpcStatus(MakeError(info)));
  EXPECT_LE(cut.ByteSizeLong(), kMaxTrailerErrorInfoBytes);
  EXPECT_GE(cut.relay_path_size(), 1);
  EXPECT_EQ(cut.relay_path(0).uuid(), Worker().uuid());
  EXPECT_EQ(cut.type(), info.type());

  // Two-byte characters throughout: an odd cut would split one.
  const grpc::Status accented = ToGrpcStatus(absl::AbortedError([] {
    std::string text;
    for (int i = 0; i < 1000; ++i) text += "\u00e9";
    return text;
  }()));
  const std::string& message = accented.error_message();
  ASSERT_GE(message.size(), 3u);
  EXPECT_EQ(message.substr(message.size() - 3), "...");
  EXPECT_EQ((message.size() - 3) % 2, 0u) << "a character was split";
  v1::ErrorInfo parses;
  parses.set_message(message);
  v1::ErrorInfo back;
  EXPECT_TRUE(back.ParseFromString(parses.SerializeAsString()));
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
