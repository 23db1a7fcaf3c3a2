#include "tether/value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"

namespace tether {
namespace {

namespace pb = google::protobuf;

absl::Status TooDeepError() {
  return absl::InvalidArgumentError(
      absl::StrCat("JSON value nests lists and objects deeper than ",
                   Value::kMaxJsonDepth, " levels"));
}

// Whether lists and objects in `json` nest more than `levels` deep. Walks
// at most `levels` deep itself.
bool NestsDeeperThan(const pb::Value& json, int levels) {
  switch (json.kind_case()) {
    case pb::Value::kListValue:
      if (levels == 0) return true;
      for (const pb::Value& element : json.list_value().values()) {
        if (NestsDeeperThan(element, levels - 1)) return true;
      }
      return false;
    case pb::Value::kStructValue:
      if (levels == 0) return true;
      for (const auto& [key, field] : json.struct_value().fields()) {
        if (NestsDeeperThan(field, levels - 1)) return true;
      }
      return false;
    default:
      return false;
  }
}

// The same for JSON text: brackets and braces outside strings. Malformed
// text is left to the parser.
bool TextNestsDeeperThan(absl::string_view text, int levels) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > levels) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// Aborts: Object() and List() hold JSON only, and their signatures cannot
// report an error.
[[noreturn]] void DieTypedMember(absl::string_view builder,
                                 absl::string_view type_url) {
  std::fprintf(stderr,
               "tether::Value::%.*s: member is a typed message (%.*s)\n",
               static_cast<int>(builder.size()), builder.data(),
               static_cast<int>(type_url.size()), type_url.data());
  std::abort();
}

bool IsNull(const pb::Value& json) {
  return json.kind_case() == pb::Value::kNullValue ||
         json.kind_case() == pb::Value::KIND_NOT_SET;
}

absl::string_view JsonKindName(const pb::Value& json) {
  switch (json.kind_case()) {
    case pb::Value::kNumberValue:
      return "JSON number";
    case pb::Value::kStringValue:
      return "JSON string";
    case pb::Value::kBoolValue:
      return "JSON bool";
    case pb::Value::kStructValue:
      return "JSON object";
    case pb::Value::kListValue:
      return "JSON list";
    case pb::Value::kNullValue:
    case pb::Value::KIND_NOT_SET:
      break;
  }
  return "JSON null";
}

// The full message name of a type URL: everything after its last '/'.
absl::string_view TypeNameOf(absl::string_view type_url) {
  return type_url.substr(type_url.rfind('/') + 1);
}

bool JsonEquals(const pb::Value& a, const pb::Value& b) {
  if (IsNull(a) || IsNull(b)) return IsNull(a) && IsNull(b);
  if (a.kind_case() != b.kind_case()) return false;
  switch (a.kind_case()) {
    case pb::Value::kNumberValue:
      return a.number_value() == b.number_value();
    case pb::Value::kStringValue:
      return a.string_value() == b.string_value();
    case pb::Value::kBoolValue:
      return a.bool_value() == b.bool_value();
    case pb::Value::kStructValue: {
      const auto& a_fields = a.struct_value().fields();
      const auto& b_fields = b.struct_value().fields();
      if (a_fields.size() != b_fields.size()) return false;
      for (const auto& [key, a_value] : a_fields) {
        const auto it = b_fields.find(key);
        if (it == b_fields.end() || !JsonEquals(a_value, it->second)) {
          return false;
        }
      }
      return true;
    }
    case pb::Value::kListValue: {
      const auto& a_values = a.list_value().values();
      const auto& b_values = b.list_value().values();
      if (a_values.size() != b_values.size()) return false;
      for (int i = 0; i < a_values.size(); ++i) {
        if (!JsonEquals(a_values[i], b_values[i])) return false;
      }
      return true;
    }
    case pb::Value::kNullValue:
    case pb::Value::KIND_NOT_SET:
      break;
  }
  return true;
}

// Encoded size of a length-delimited field with a one-byte tag.
size_t DelimitedFieldSize(size_t length) {
  return 1 + pb::io::CodedOutputStream::VarintSize64(length) + length;
}

}  // namespace

Value::Value() : json_(std::in_place) { json_->set_null_value(pb::NULL_VALUE); }

Value::Value(std::shared_ptr<const std::string> type_url,
             std::string message_bytes)
    : is_message_(true),
      type_url_(std::move(type_url)),
      message_bytes_(std::move(message_bytes)) {}

std::shared_ptr<const std::string> Value::TypeUrlOf(
    const pb::Message& message) {
  return std::make_shared<const std::string>(
      std::string(kTypeUrlPrefix).append(message.GetTypeName()));
}

const std::string& Value::type_url() const {
  if (type_url_ != nullptr) return *type_url_;
  static const std::string* const kNone = new std::string();
  return *kNone;
}

const pb::Value& Value::json() const {
  if (json_.has_value()) return *json_;
  static const pb::Value* const kNull = [] {
    auto* null = new pb::Value();
    null->set_null_value(pb::NULL_VALUE);
    return null;
  }();
  return *kNull;
}

Value Value::Json(pb::Value json) {
  Value value;
  if (json.kind_case() != pb::Value::KIND_NOT_SET)
    *value.json_ = std::move(json);
  return value;
}

Value Value::Bool(bool value) {
  Value result;
  result.json_->set_bool_value(value);
  return result;
}

Value Value::Number(double value) {
  Value result;
  result.json_->set_number_value(value);
  return result;
}

Value Value::Int(int64_t value) { return Number(static_cast<double>(value)); }

Value Value::String(std::string value) {
  Value result;
  result.json_->set_string_value(std::move(value));
  return result;
}

Value Value::Object(
    std::initializer_list<std::pair<std::string, Value>> fields) {
  Value result;
  auto* out = result.json_->mutable_struct_value()->mutable_fields();
  for (const auto& [key, member] : fields) {
    if (member.is_message_) DieTypedMember("Object", member.type_url());
    (*out)[key] = *member.json_;
  }
  return result;
}

Value Value::List(std::vector<Value> elements) {
  Value result;
  pb::ListValue* out = result.json_->mutable_list_value();
  out->mutable_values()->Reserve(static_cast<int>(elements.size()));
  for (Value& element : elements) {
    if (element.is_message_) DieTypedMember("List", element.type_url());
    *out->add_values() = std::move(*element.json_);
  }
  return result;
}

absl::StatusOr<Value> Value::ParseJson(absl::string_view text) {
  // Before the parser, whose own recursion the depth would strain.
  if (TextNestsDeeperThan(text, kMaxJsonDepth)) return TooDeepError();
  pb::Value json;
  const pb::util::Status status = pb::util::JsonStringToMessage(
      pb::StringPiece(text.data(), text.size()), &json);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON: ", status.message().ToString()));
  }
  return Json(std::move(json));
}

absl::Status Value::CheckNesting() const {
  if (is_message_ || !NestsDeeperThan(*json_, kMaxJsonDepth)) {
    return absl::OkStatus();
  }
  return TooDeepError();
}

std::string Value::ToJson() const {
  std::string out;
  if (!is_message_) {
    if (pb::util::MessageToJsonString(*json_, &out).ok()) return out;
    return absl::StrCat("<", JsonKindName(*json_), " with no JSON form>");
  }
  const absl::string_view type_name = TypeNameOf(type_url());
  const pb::Descriptor* descriptor =
      pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
          std::string(type_name));
  if (descriptor != nullptr) {
    std::unique_ptr<pb::Message> message(pb::MessageFactory::generated_factory()
                                             ->GetPrototype(descriptor)
                                             ->New());
    if (message->ParseFromString(message_bytes_) &&
        pb::util::MessageToJsonString(*message, &out).ok()) {
      return out;
    }
  }
  return absl::StrCat("<", type_name, ": ", message_bytes_.size(), " bytes>");
}

absl::Status Value::UnpackTo(pb::Message* message) const {
  const std::string expected = message->GetTypeName();
  if (!is_message_ || TypeNameOf(type_url()) != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a ", expected, " message, got ", Describe()));
  }
  if (!message->ParseFromString(message_bytes_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed ", expected, " message (",
                     message_bytes_.size(), " bytes)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Value::AsInt() const {
  if (is_message_ || json_->kind_case() != pb::Value::kNumberValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an integer, got ", Describe()));
  }
  // 2^63 is exactly representable; every double in [-2^63, 2^63) that has no
  // fraction converts to int64_t without loss.
  constexpr double kTwoTo63 = 9223372036854775808.0;
  const double number = json_->number_value();
  if (std::trunc(number) != number || number < -kTwoTo63 ||
      number >= kTwoTo63) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an integer, got JSON number ", number));
  }
  return static_cast<int64_t>(number);
}

absl::StatusOr<double> Value::AsDouble() const {
  if (is_message_ || json_->kind_case() != pb::Value::kNumberValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a number, got ", Describe()));
  }
  return json_->number_value();
}

absl::StatusOr<std::string> Value::AsString() const {
  if (is_message_ || json_->kind_case() != pb::Value::kStringValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a string, got ", Describe()));
  }
  return json_->string_value();
}

absl::StatusOr<bool> Value::AsBool() const {
  if (is_message_ || json_->kind_case() != pb::Value::kBoolValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a bool, got ", Describe()));
  }
  return json_->bool_value();
}

absl::StatusOr<Value> Value::Field(absl::string_view name) const {
  if (is_message_ || json_->kind_case() != pb::Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a JSON object with field \"", name, "\", got ", Describe()));
  }
  const auto& fields = json_->struct_value().fields();
  const auto it = fields.find(std::string(name));
  if (it == fields.end()) {
    return absl::NotFoundError(
        absl::StrCat("no field \"", name, "\" in JSON object"));
  }
  return Json(it->second);
}

absl::StatusOr<std::vector<Value>> Value::Elements() const {
  if (is_message_ || json_->kind_case() != pb::Value::kListValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON list, got ", Describe()));
  }
  std::vector<Value> elements;
  elements.reserve(json_->list_value().values_size());
  for (const pb::Value& element : json_->list_value().values()) {
    elements.push_back(Json(element));
  }
  return elements;
}

v1::Payload Value::ToProto() const {
  v1::Payload payload;
  if (is_message_) {
    payload.set_message(message_bytes_);
    payload.set_type_url(type_url());
  } else {
    *payload.mutable_json() = *json_;
  }
  return payload;
}

absl::StatusOr<Value> Value::FromProto(const v1::Payload& payload,
                                       absl::string_view inherited_type_url) {
  return FromProto(v1::Payload(payload), inherited_type_url);
}

absl::StatusOr<Value> Value::FromProto(v1::Payload&& payload,
                                       absl::string_view inherited_type_url) {
  switch (payload.kind_case()) {
    case v1::Payload::kJson: {
      Value value;
      value.json_->Swap(payload.mutable_json());
      return value;
    }
    case v1::Payload::kMessage: {
      const absl::string_view type_url =
          payload.type_url().empty() ? inherited_type_url : payload.type_url();
      if (type_url.empty()) {
        return absl::InvalidArgumentError(
            "message payload has no type_url and none is inherited from an "
            "earlier payload of its batch");
      }
      std::string bytes;
      bytes.swap(*payload.mutable_message());
      return Typed(std::string(type_url), std::move(bytes));
    }
    case v1::Payload::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("payload has neither json nor message");
}

absl::StatusOr<Value> Value::Typed(std::string type_url,
                                   std::string message_bytes) {
  return Typed(std::make_shared<const std::string>(std::move(type_url)),
               std::move(message_bytes));
}

absl::StatusOr<Value> Value::Typed(std::shared_ptr<const std::string> type_url,
                                   std::string message_bytes) {
  const absl::string_view url =
      type_url == nullptr ? absl::string_view() : absl::string_view(*type_url);
  if (TypeNameOf(url).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed type_url \"", url,
                     "\": no message name after the last '/'"));
  }
  return Value(std::move(type_url), std::move(message_bytes));
}

size_t Value::ByteSizeLong() const {
  if (!is_message_) return DelimitedFieldSize(json_->ByteSizeLong());
  return DelimitedFieldSize(message_bytes_.size()) +
         DelimitedFieldSize(type_url().size());
}

std::string Value::Describe() const {
  if (is_message_)
    return absl::StrCat("a ", TypeNameOf(type_url()), " message");
  return std::string(JsonKindName(*json_));
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_message_ != b.is_message_) return false;
  if (a.is_message_) {
    return a.type_url() == b.type_url() && a.message_bytes_ == b.message_bytes_;
  }
  return JsonEquals(*a.json_, *b.json_);
}

}  // namespace tether
