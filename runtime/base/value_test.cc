#include "tether/value.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/frame.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {

// Failure messages show values as JSON.
void PrintTo(const Value& value, std::ostream* os) { *os << value.ToJson(); }

namespace {

v1::ActorId MakeActorId(const std::string& name) {
  v1::ActorId id;
  id.set_name(name);
  id.set_uuid("3f2a9c1e-0000-4000-8000-000000000001");
  return id;
}

TEST(ValueTest, DefaultIsJsonNull) {
  const Value value;
  EXPECT_TRUE(value.is_json());
  EXPECT_FALSE(value.is_message());
  EXPECT_EQ(value.json().kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_EQ(value.ToJson(), "null");
  EXPECT_EQ(value, Value::Null());
  EXPECT_EQ(value.type_url(), "");
}

TEST(ValueTest, JsonWithNoKindIsNull) {
  EXPECT_EQ(Value::Json(google::protobuf::Value()), Value::Null());
  EXPECT_EQ(Value::Json(google::protobuf::Value()).ToJson(), "null");
}

TEST(ValueTest, ScalarBuildersAndAccessors) {
  EXPECT_EQ(*Value::Bool(true).AsBool(), true);
  EXPECT_EQ(*Value::Number(2.5).AsDouble(), 2.5);
  EXPECT_EQ(*Value::Int(-42).AsInt(), -42);
  EXPECT_EQ(*Value::Int(-42).AsDouble(), -42.0);
  EXPECT_EQ(*Value::String("hi").AsString(), "hi");
  EXPECT_EQ(Value::Bool(false).ToJson(), "false");
  EXPECT_EQ(Value::Int(7).ToJson(), "7");
  EXPECT_EQ(Value::String("a\"b").ToJson(), R"("a\"b")");
}

TEST(ValueTest, IntBeyondTwoTo53LosesPrecision) {
  const int64_t big = (int64_t{1} << 53) + 1;
  EXPECT_EQ(*Value::Int(big).AsInt(), big - 1);
  EXPECT_EQ(*Value::Int(std::numeric_limits<int64_t>::min()).AsInt(),
            std::numeric_limits<int64_t>::min());
}

TEST(ValueTest, AsIntRejectsFractionsAndOutOfRange) {
  const absl::StatusOr<int64_t> fraction = Value::Number(2.5).AsInt();
  EXPECT_EQ(fraction.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fraction.status().message(),
            "expected an integer, got JSON number 2.5");
  EXPECT_FALSE(Value::Number(9223372036854775808.0).AsInt().ok());
  EXPECT_FALSE(Value::Number(std::nan("")).AsInt().ok());
  EXPECT_FALSE(
      Value::Number(std::numeric_limits<double>::infinity()).AsInt().ok());
  EXPECT_EQ(Value::String("3").AsInt().status().message(),
            "expected an integer, got JSON string");
}

TEST(ValueTest, ScalarAccessorsNameWhatWasThere) {
  EXPECT_EQ(Value::Null().AsDouble().status().message(),
            "expected a number, got JSON null");
  EXPECT_EQ(Value::Int(1).AsString().status().message(),
            "expected a string, got JSON number");
  EXPECT_EQ(Value::List({}).AsBool().status().message(),
            "expected a bool, got JSON list");
  EXPECT_EQ(Value::Message(MakeActorId("a")).AsBool().status().message(),
            "expected a bool, got a tether.v1.ActorId message");
}

TEST(ValueTest, ObjectFieldsAndErrors) {
  const Value object =
      Value::Object({{"n", Value::Int(3)}, {"who", Value::String("world")}});
  EXPECT_EQ(*object.Field("n"), Value::Int(3));
  EXPECT_EQ(*object.Field("who")->AsString(), "world");

  const absl::StatusOr<Value> missing = object.Field("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no field \"nope\" in JSON object");

  const absl::StatusOr<Value> not_object = Value::Int(1).Field("n");
  EXPECT_EQ(not_object.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(not_object.status().message(),
            "expected a JSON object with field \"n\", got JSON number");
}

TEST(ValueTest, ObjectRepeatedKeyKeepsLast) {
  const Value object =
      Value::Object({{"k", Value::Int(1)}, {"k", Value::Int(2)}});
  EXPECT_EQ(*object.Field("k"), Value::Int(2));
  EXPECT_EQ(object.json().struct_value().fields_size(), 1);
}

TEST(ValueTest, ListElements) {
  const Value list =
      Value::List({Value::Int(1), Value::String("two"), Value::Null()});
  const absl::StatusOr<std::vector<Value>> elements = list.Elements();
  ASSERT_TRUE(elements.ok()) << elements.status();
  ASSERT_EQ(elements->size(), 3u);
  EXPECT_EQ((*elements)[0], Value::Int(1));
  EXPECT_EQ((*elements)[1], Value::String("two"));
  EXPECT_EQ((*elements)[2], Value::Null());
  EXPECT_EQ(list.ToJson(), R"([1,"two",null])");
  EXPECT_EQ(Value::Object({}).Elements().status().message(),
            "expected a JSON list, got JSON object");
}

TEST(ValueDeathTest, TypedMemberInObjectOrListAborts) {
  const Value typed = Value::Message(MakeActorId("a"));
  EXPECT_DEATH(Value::Object({{"id", typed}}), "typed message");
  EXPECT_DEATH(Value::List({typed}), "typed message");
}

TEST(ValueTest, ParseJsonRoundTrip) {
  const absl::StatusOr<Value> parsed =
      Value::ParseJson(R"( {"x": [1.5, -2, true, null], "s": "hi"} )");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(
      *parsed,
      Value::Object({{"s", Value::String("hi")},
                     {"x", Value::List({Value::Number(1.5), Value::Int(-2),
                                        Value::Bool(true), Value::Null()})}}));
  EXPECT_EQ(*Value::ParseJson(parsed->ToJson()), *parsed);
  EXPECT_EQ(*Value::ParseJson("3"), Value::Int(3));
  EXPECT_EQ(*Value::ParseJson("null"), Value::Null());
}

TEST(ValueTest, ParseJsonRejectsMalformedText) {
  for (const char* text : {"{bad", "", "1e400", "[1,"}) {
    const absl::StatusOr<Value> parsed = Value::ParseJson(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_TRUE(absl::StartsWith(parsed.status().message(), "malformed JSON"))
        << parsed.status();
  }
}

// `depth` lists nested in each other around 1, as a Value and as text.
Value NestedLists(int depth) {
  Value value = Value::Int(1);
  for (int i = 0; i < depth; ++i) value = Value::List({value});
  return value;
}
std::string NestedListsText(int depth) {
  return std::string(depth, '[') + "1" + std::string(depth, ']');
}

TEST(ValueTest, NestingUpToTheLimitIsAccepted) {
  EXPECT_TRUE(NestedLists(Value::kMaxJsonDepth).CheckNesting().ok());
  const absl::StatusOr<Value> parsed =
      Value::ParseJson(NestedListsText(Value::kMaxJsonDepth));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, NestedLists(Value::kMaxJsonDepth));
  // A frame carrying it can be read back: the limit leaves room for
  // protobuf's own.
  v1::Frame frame;
  *frame.mutable_start()->mutable_args() = parsed->ToProto();
  v1::Frame read;
  ASSERT_TRUE(read.ParseFromString(frame.SerializeAsString()));
  EXPECT_EQ(*Value::FromProto(read.start().args()), *parsed);
  EXPECT_TRUE(Value::Message(v1::ActorId()).CheckNesting().ok());
}

TEST(ValueTest, NestingBeyondTheLimitIsRefusedByName) {
  // Two objects and a list around 30 lists: 33 levels.
  const Value objects = Value::Object(
      {{"a", Value::Object({{"b", Value::List({NestedLists(30)})}})}});
  for (const Value& deep : {NestedLists(Value::kMaxJsonDepth + 1), objects}) {
    const absl::Status status = deep.CheckNesting();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), "deeper than 32"))
        << status;
  }
  // Text deeper than any parser's patience is refused before parsing; a
  // bracket inside a string does not count.
  for (int depth : {Value::kMaxJsonDepth + 1, 100000}) {
    const absl::StatusOr<Value> parsed =
        Value::ParseJson(NestedListsText(depth));
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), "deeper than 32"))
        << parsed.status();
  }
  EXPECT_TRUE(
      Value::ParseJson("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]").ok());
}

TEST(ValueTest, TypedMessageRoundTrip) {
  const v1::ActorId id = MakeActorId("worker");
  const Value value = Value::Message(id);
  EXPECT_TRUE(value.is_message());
  EXPECT_EQ(value.type_url(), "type.googleapis.com/tether.v1.ActorId");
  EXPECT_EQ(value.message_bytes(), id.SerializeAsString());
  const absl::StatusOr<v1::ActorId> back = value.As<v1::ActorId>();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name(), "worker");
  EXPECT_EQ(back->uuid(), id.uuid());
}

TEST(ValueTest, AsNamesExpectedAndActualType) {
  const absl::StatusOr<v1::ActorId> from_json = Value::Int(1).As<v1::ActorId>();
  EXPECT_EQ(from_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(from_json.status().message(),
            "expected a tether.v1.ActorId message, got JSON number");

  const absl::StatusOr<v1::ActorId> wrong_type =
      Value::Message(v1::ErrorInfo()).As<v1::ActorId>();
  EXPECT_EQ(wrong_type.status().message(),
            "expected a tether.v1.ActorId message, got a tether.v1.ErrorInfo "
            "message");
}

TEST(ValueTest, AsRejectsMalformedBytes) {
  v1::Payload payload;
  payload.set_message("\xff\xff\xff");
  payload.set_type_url("type.googleapis.com/tether.v1.ActorId");
  const absl::StatusOr<Value> value = Value::FromProto(payload);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->As<v1::ActorId>().status().message(),
            "malformed tether.v1.ActorId message (3 bytes)");
  EXPECT_EQ(value->ToJson(), "<tether.v1.ActorId: 3 bytes>");
}

TEST(ValueTest, ToJsonOfKnownAndUnknownMessageTypes) {
  EXPECT_EQ(Value::Message(MakeActorId("w")).ToJson(),
            R"({"name":"w","uuid":"3f2a9c1e-0000-4000-8000-000000000001"})");
  v1::Payload payload;
  payload.set_message("abcd");
  payload.set_type_url("type.googleapis.com/other.Unknown");
  EXPECT_EQ(Value::FromProto(payload)->ToJson(), "<other.Unknown: 4 bytes>");
}

TEST(ValueTest, EqualityIsDeep) {
  EXPECT_EQ(Value::Object(
                {{"a", Value::List({Value::Int(1)})}, {"b", Value::Null()}}),
            Value::Object(
                {{"b", Value::Null()}, {"a", Value::List({Value::Int(1)})}}));
  EXPECT_NE(Value::Object({{"a", Value::List({Value::Int(1)})}}),
            Value::Object({{"a", Value::List({Value::Int(2)})}}));
  EXPECT_NE(Value::Object({{"a", Value::Int(1)}}),
            Value::Object({{"b", Value::Int(1)}}));
  EXPECT_NE(Value::List({Value::Int(1)}),
            Value::List({Value::Int(1), Value::Int(1)}));
  EXPECT_NE(Value::Int(1), Value::String("1"));
  EXPECT_NE(Value::Null(), Value::Bool(false));
  EXPECT_EQ(Value::Message(MakeActorId("a")), Value::Message(MakeActorId("a")));
  EXPECT_NE(Value::Message(MakeActorId("a")), Value::Message(MakeActorId("b")));
  EXPECT_NE(Value::Message(v1::ActorId()), Value::Message(v1::ErrorInfo()));
  EXPECT_NE(Value::Message(v1::ActorId()), Value::Null());
}

// Vectors of values move their elements when they grow.
static_assert(std::is_nothrow_move_constructible<Value>::value);
static_assert(std::is_nothrow_move_assignable<Value>::value);

TEST(ValueTest, CopyAndMoveKeepContent) {
  const Value original = Value::Object({{"k", Value::String("v")}});
  Value copy = original;
  EXPECT_EQ(copy, original);
  const Value moved = std::move(copy);
  EXPECT_EQ(moved, original);
}

TEST(ValueTest, PayloadRoundTrip) {
  for (const Value& value :
       {Value::Null(), Value::Int(5),
        Value::ParseJson(R"({"a":[1,"b"]})").value(),
        Value::Message(MakeActorId("w")), Value::Message(v1::ActorId())}) {
    const v1::Payload payload = value.ToProto();
    const absl::StatusOr<Value> back = Value::FromProto(payload);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, value) << value.ToJson();
    EXPECT_EQ(value.ByteSizeLong(), payload.ByteSizeLong()) << value.ToJson();
  }
}

TEST(ValueTest, FromProtoTypeUrlRules) {
  v1::Payload payload;
  payload.set_message(MakeActorId("w").SerializeAsString());

  const absl::StatusOr<Value> orphan = Value::FromProto(payload);
  EXPECT_EQ(orphan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(orphan.status().message(), "no type_url"));

  const absl::StatusOr<Value> inherited =
      Value::FromProto(payload, "type.googleapis.com/tether.v1.ActorId");
  ASSERT_TRUE(inherited.ok()) << inherited.status();
  EXPECT_EQ(inherited->As<v1::ActorId>()->name(), "w");

  payload.set_type_url("type.googleapis.com/");
  EXPECT_FALSE(Value::FromProto(payload).ok());

  EXPECT_EQ(Value::FromProto(v1::Payload()).status().message(),
            "payload has neither json nor message");

  v1::Payload json;
  json.mutable_json()->set_bool_value(true);
  json.set_type_url("type.googleapis.com/ignored");
  EXPECT_EQ(*Value::FromProto(json), Value::Bool(true));
}

}  // namespace
}  // namespace tether
