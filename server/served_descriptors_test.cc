#include "server/served_descriptors.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

google::protobuf::FileDescriptorProto Parse(const std::string& serialized) {
  google::protobuf::FileDescriptorProto file;
  EXPECT_TRUE(file.ParseFromString(serialized));
  return file;
}

std::vector<std::string> Names(const std::vector<std::string>& files) {
  std::vector<std::string> names;
  for (const std::string& file : files) names.push_back(Parse(file).name());
  return names;
}

TEST(ServedDescriptorsTest, DescribesEveryServedService) {
  const ServedDescriptors& served = ServedDescriptors::Get();
  for (const char* service :
       {"tether.v1.Actor", "tether.v1.Registrar", "tether.v1.Debug",
        "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_TRUE(served.HasService(service)) << service;
  }
  EXPECT_FALSE(served.HasService("no.Such"));
}

// The file first, then each of its imports once.
TEST(ServedDescriptorsTest, ASymbolsFileComesWithItsImports) {
  absl::StatusOr<std::vector<std::string>> files =
      ServedDescriptors::Get().FileContainingSymbol("tether.v1.Actor");
  ASSERT_TRUE(files.ok()) << files.status();
  const std::vector<std::string> names = Names(*files);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "tether/v1/actor.proto");
  const google::protobuf::FileDescriptorProto actor = Parse(files->front());
  ASSERT_GT(actor.dependency_size(), 0);
  for (const std::string& import : actor.dependency()) {
    EXPECT_EQ(std::count(names.begin(), names.end(), import), 1) << import;
  }
}

// What grpcurl needs to print docs/protocol.md's JSON names and the
// contract's comments.
TEST(ServedDescriptorsTest, FilesCarryJsonNamesAndComments) {
  absl::StatusOr<std::vector<std::string>> files =
      ServedDescriptors::Get().FileByName("tether/v1/frame.proto");
  ASSERT_TRUE(files.ok()) << files.status();
  const google::protobuf::FileDescriptorProto frame = Parse(files->front());
  bool start_ack_named = false;
  for (const auto& message : frame.message_type()) {
    for (const auto& field : message.field()) {
      if (field.name() == "start_ack") {
        start_ack_named = field.json_name() == "startAck";
      }
    }
  }
  EXPECT_TRUE(start_ack_named);
  bool commented = false;
  for (const auto& location : frame.source_code_info().location()) {
    commented = commented || !location.leading_comments().empty();
  }
  EXPECT_TRUE(commented);
}

TEST(ServedDescriptorsTest, UnknownNamesAreNotFound) {
  const ServedDescriptors& served = ServedDescriptors::Get();
  EXPECT_TRUE(absl::IsNotFound(served.FileByName("no/such.proto").status()));
  EXPECT_TRUE(
      absl::IsNotFound(served.FileContainingSymbol("no.Such").status()));
  EXPECT_TRUE(absl::IsNotFound(
      served.FileContainingExtension("tether.v1.Frame", 99).status()));
  EXPECT_TRUE(absl::IsNotFound(served.ExtensionNumbers("no.Such").status()));
  absl::StatusOr<std::vector<int>> none =
      served.ExtensionNumbers("tether.v1.Frame");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST(ServedDescriptorsTest, AMalformedSetIsRefused) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      ServedDescriptors::FromSet("\xff\xff not a set").status()));
  google::protobuf::FileDescriptorSet orphan;
  google::protobuf::FileDescriptorProto* file = orphan.add_file();
  file->set_name("orphan.proto");
  file->add_dependency("missing.proto");
  EXPECT_TRUE(absl::IsInvalidArgument(
      ServedDescriptors::FromSet(orphan.SerializeAsString()).status()));
}

}  // namespace
}  // namespace tether
