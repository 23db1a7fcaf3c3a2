#include "runtime/context/internal/yield_wire.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/frame.pb.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether {

void PrintTo(const Value& value, std::ostream* os) { *os << value.ToJson(); }

namespace context_internal {

namespace {

v1::ActorId MakeActorId(const std::string& name) {
  v1::ActorId id;
  id.set_name(name);
  return id;
}

// Every payload of a serialized Yield, or the first error.
absl::StatusOr<std::vector<Value>> DecodeYield(absl::string_view yield) {
  absl::StatusOr<YieldBatch> batch = YieldBatch::Parse(std::string(yield));
  if (!batch.ok()) return batch.status();
  std::vector<Value> values;
  while (!batch->empty()) {
    absl::StatusOr<Value> value = batch->Next();
    if (!value.ok()) return value.status();
    values.push_back(*std::move(value));
  }
  return values;
}

std::string FrameOf(const std::vector<Value>& values) {
  YieldFrameBuilder builder;
  for (const Value& value : values) builder.Append(value);
  return std::move(builder).Finish();
}

TEST(YieldWireTest,
     BuiltFramesParseAsFramesAndSpellEachTypeUrlOnceWhileItRepeats) {
  const std::vector<Value> values = {Value::Message(MakeActorId("a")),
                                     Value::Message(MakeActorId("b")),
                                     Value::Int(1),
                                     Value::Message(MakeActorId("c")),
                                     Value::Message(v1::ErrorInfo()),
                                     Value::Message(MakeActorId("d"))};
  v1::Frame frame;
  ASSERT_TRUE(frame.ParseFromString(FrameOf(values)));
  ASSERT_TRUE(frame.has_yield_batch());
  const auto& batch = frame.yield_batch().values();
  ASSERT_EQ(batch.size(), 6);
  EXPECT_EQ(batch[0].type_url(), "type.googleapis.com/tether.v1.ActorId");
  EXPECT_EQ(batch[1].type_url(), "");
  EXPECT_EQ(batch[2].type_url(), "");
  EXPECT_TRUE(batch[2].has_json());
  EXPECT_EQ(batch[3].type_url(), "");
  EXPECT_EQ(batch[4].type_url(), "type.googleapis.com/tether.v1.ErrorInfo");
  EXPECT_EQ(batch[5].type_url(), "type.googleapis.com/tether.v1.ActorId");
  // An empty message still sets the payload's kind.
  EXPECT_EQ(batch[4].kind_case(), v1::Payload::kMessage);
}

TEST(YieldWireTest, DecodingGivesBackWhatWasAppended) {
  const std::vector<Value> values = {
      Value::Message(MakeActorId("a")), Value::Message(MakeActorId("b")),
      Value::Object({{"n", Value::Int(3)}, {"s", Value::String("x")}}),
      Value::Null(), Value::Message(v1::ErrorInfo())};
  const std::string frame = FrameOf(values);
  const std::optional<absl::string_view> yield = LoneYieldOf(frame);
  ASSERT_TRUE(yield.has_value());
  EXPECT_EQ(YieldBatch::Parse(std::string(*yield))->size(), values.size());
  const absl::StatusOr<std::vector<Value>> back = DecodeYield(*yield);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, values);
}

TEST(YieldWireTest, LargeBatchesKeepTheirLengths) {
  std::vector<Value> values;
  for (int i = 0; i < 300; ++i) {
    values.push_back(Value::Message(MakeActorId(std::string(i, 'x'))));
  }
  const std::string frame = FrameOf(values);
  EXPECT_GT(frame.size(), 1u << 14);  // A length needing three bytes.
  const absl::StatusOr<std::vector<Value>> back =
      DecodeYield(*LoneYieldOf(frame));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, values);
}

TEST(YieldWireTest, DecodesWhatProtobufWrites) {
  v1::Yield yield;
  *yield.add_values() = Value::Message(MakeActorId("a")).ToProto();
  v1::Payload* inheriting = yield.add_values();
  inheriting->set_message(MakeActorId("b").SerializeAsString());
  *yield.add_values() = Value::Bool(true).ToProto();
  const absl::StatusOr<std::vector<Value>> values =
      DecodeYield(yield.SerializeAsString());
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, (std::vector<Value>{Value::Message(MakeActorId("a")),
                                         Value::Message(MakeActorId("b")),
                                         Value::Bool(true)}));
}

TEST(YieldWireTest, UnknownFieldsAreSkipped) {
  v1::Payload payload = Value::Int(7).ToProto();
  std::string bytes = payload.SerializeAsString();
  bytes += std::string("\x28\x05", 2);  // Field 5, varint 5: not in Payload.
  v1::Yield yield;
  std::string yield_bytes = std::string("\x10\x01", 2);  // Field 2, varint.
  yield_bytes += '\x0a';
  yield_bytes += static_cast<char>(bytes.size());
  yield_bytes += bytes;
  ASSERT_TRUE(yield.ParseFromString(yield_bytes));  // protobuf agrees.
  const absl::StatusOr<std::vector<Value>> values = DecodeYield(yield_bytes);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, std::vector<Value>{Value::Int(7)});
}

TEST(YieldWireTest, AFirstMessageWithoutTypeUrlIsRejectedByIndex) {
  v1::Yield yield;
  yield.add_values()->mutable_json()->set_number_value(1);
  yield.add_values()->set_message("");
  const absl::StatusOr<std::vector<Value>> values =
      DecodeYield(yield.SerializeAsString());
  EXPECT_EQ(values.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(values.status().message(), "payload 1 of batch"))
      << values.status();
}

TEST(YieldWireTest, APayloadWithNoKindIsRejected) {
  v1::Yield yield;
  yield.add_values()->set_type_url("type.googleapis.com/x.Y");
  const absl::StatusOr<std::vector<Value>> values =
      DecodeYield(yield.SerializeAsString());
  EXPECT_EQ(values.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(values.status().message(), "neither"))
      << values.status();
}

TEST(YieldWireTest, MalformedBytesAreRejected) {
  // A payload entry claiming more bytes than there are.
  const std::string truncated("\x0a\x05\x12\x01", 4);
  EXPECT_EQ(YieldBatch::Parse(truncated).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A type URL that is not UTF-8.
  std::string payload("\x12\x00\x1a\x02\xc3\x28", 6);
  std::string yield("\x0a", 1);
  yield += static_cast<char>(payload.size());
  yield += payload;
  EXPECT_EQ(DecodeYield(yield).status().code(),
            absl::StatusCode::kInvalidArgument);
  // JSON that does not parse.
  const std::string bad_json("\x0a\x03\x0a\x01\xff", 5);
  EXPECT_EQ(DecodeYield(bad_json).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(YieldWireTest, ABatchDecodesAsItIsTakenAndCanBeTruncated) {
  absl::StatusOr<YieldBatch> batch = YieldBatch::Parse(std::string(
      *LoneYieldOf(FrameOf({Value::Int(1), Value::Int(2), Value::Int(3)}))));
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->size(), 3u);
  EXPECT_EQ(*batch->Next(), Value::Int(1));
  batch->Truncate(1);
  EXPECT_EQ(*batch->Next(), Value::Int(2));
  EXPECT_TRUE(batch->empty());
}

TEST(YieldWireTest, APayloadThatDoesNotDecodeIsReportedWhenTaken) {
  v1::Yield yield;
  *yield.add_values() = Value::Int(1).ToProto();
  yield.add_values()->set_type_url("type.googleapis.com/x.Y");  // No kind.
  absl::StatusOr<YieldBatch> batch =
      YieldBatch::Parse(yield.SerializeAsString());
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(*batch->Next(), Value::Int(1));
  const absl::StatusOr<Value> bad = batch->Next();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "payload 1 of batch"))
      << bad.status();
}

// What protobuf's own parser makes of a serialized Yield: its payloads read
// with Value::FromProto under the batch rule, or the first error.
absl::StatusOr<std::vector<Value>> ReferenceDecode(const std::string& bytes) {
  v1::Yield yield;
  if (!yield.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("protobuf rejects the bytes");
  }
  std::vector<Value> values;
  std::string inherited;
  for (const v1::Payload& payload : yield.values()) {
    if (payload.kind_case() == v1::Payload::kMessage &&
        !payload.type_url().empty()) {
      inherited = payload.type_url();
    }
    absl::StatusOr<Value> value = Value::FromProto(payload, inherited);
    if (!value.ok()) return value.status();
    values.push_back(*std::move(value));
  }
  return values;
}

// Random payloads of every kind, with repeated and omitted type URLs.
v1::Yield RandomYield(std::mt19937& random) {
  const std::vector<std::string> urls = {
      "type.googleapis.com/tether.v1.ActorId", "type.googleapis.com/a.B", "",
      "no-slash/", "x/y.Z"};
  v1::Yield yield;
  const int count = static_cast<int>(random() % 8);
  for (int i = 0; i < count; ++i) {
    v1::Payload* payload = yield.add_values();
    switch (random() % 4) {
      case 0:
        payload->mutable_json()->set_number_value(random() % 1000);
        break;
      case 1:
        *payload->mutable_json() =
            Value::Object(
                {{"k", Value::String(std::string(random() % 20, 'v'))}})
                .json();
        break;
      default:
        payload->set_message(std::string(random() % 70, 'm'));
        payload->set_type_url(urls[random() % urls.size()]);
        break;
    }
  }
  return yield;
}

TEST(YieldWireTest, AgreesWithProtobufOnRandomAndDamagedBatches) {
  std::mt19937 random(20261127);
  int agreed_valid = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = RandomYield(random).SerializeAsString();
    if (round % 2 == 1 && !bytes.empty()) {
      // Damage a byte or cut the tail.
      if (random() % 2 == 0) {
        bytes[random() % bytes.size()] = static_cast<char>(random());
      } else {
        bytes.resize(random() % bytes.size());
      }
    }
    const absl::StatusOr<std::vector<Value>> reference = ReferenceDecode(bytes);
    const absl::StatusOr<std::vector<Value>> decoded = DecodeYield(bytes);
    if (reference.ok()) {
      ASSERT_TRUE(decoded.ok())
          << "round " << round << ": " << decoded.status();
      EXPECT_EQ(*decoded, *reference) << "round " << round;
      ++agreed_valid;
    } else {
      EXPECT_FALSE(decoded.ok()) << "round " << round << " decodes what "
                                 << "protobuf rejects: " << reference.status();
    }
  }
  EXPECT_GT(agreed_valid, 1000);  // The comparison covered valid batches.
}

TEST(YieldWireTest, OnlyALoneYieldIsTakenApart) {
  v1::Frame stop;
  stop.mutable_stop()->set_data_count(3);
  EXPECT_FALSE(LoneYieldOf(stop.SerializeAsString()).has_value());
  std::string yield_then_stop = FrameOf({Value::Int(1)});
  yield_then_stop += stop.SerializeAsString();
  EXPECT_FALSE(LoneYieldOf(yield_then_stop).has_value());
  EXPECT_FALSE(LoneYieldOf("garbage").has_value());
  EXPECT_FALSE(LoneYieldOf("").has_value());
}

}  // namespace
}  // namespace context_internal
}  // namespace tether
