// File: tether/value.h
//
// One application value: the C++ face of tether.v1.Payload. A Value is either
// a JSON-shaped value (google.protobuf.Value: null, bool, number, string, list
// or object), which scripts and grpcurl can send with no type registration, or
// a typed protobuf message (its serialized bytes plus the full type URL
// "type.googleapis.com/<full.message.Name>"), which is what C++ code sends.
//
// clang-format off
// Example:
//
//   // JSON-shaped: reads {"n": 3, "who": "world"}.
//   absl::StatusOr<std::string> Greeting(const Value& args) {
//     TETHER_ASSIGN_OR_RETURN(Value n, args.Field("n"));
//     TETHER_ASSIGN_OR_RETURN(int64_t times, n.AsInt());
//     TETHER_ASSIGN_OR_RETURN(Value who, args.Field("who"));
//     TETHER_ASSIGN_OR_RETURN(std::string name, who.AsString());
//     return std::to_string(times) + " x hello " + name;
//   }
//   const Value kArgs = Value::Object(
//       {{"n", Value::Int(3)}, {"who", Value::String("world")}});
//
//   // Typed: any protobuf message, and back.
//   absl::StatusOr<v1::ActorId> RoundTrip(const v1::ActorId& id) {
//     const Value value = Value::Message(id);
//     TETHER_ASSIGN_OR_RETURN(Value received, Value::FromProto(value.ToProto()));
//     return received.As<v1::ActorId>();
//   }
// clang-format on
//
// Thread-safety: a value type, cheap to move; thread-compatible (const
// methods may be called concurrently, anything else needs external
// synchronization).

#ifndef TETHER_VALUE_H_
#define TETHER_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "tether/v1/payload.pb.h"

namespace tether {

class Value {
 public:
  // Prefix of every type URL this class writes (google.protobuf.Any form).
  static constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

  // JSON null.
  Value();

  // A JSON-shaped value. A google.protobuf.Value with no kind set reads as
  // JSON null.
  static Value Json(google::protobuf::Value json);

  static Value Null() { return Value(); }
  static Value Bool(bool value);
  static Value Number(double value);
  // A JSON number: integers beyond +-2^53 lose precision (JSON numbers are
  // doubles). Send a protobuf message to carry exact 64-bit integers.
  static Value Int(int64_t value);
  // `value` must be UTF-8, as every proto3 string on the wire.
  static Value String(std::string value);
  // JSON object and list. Every member must be a JSON value: passing a typed
  // message is a programming error and aborts the process. A repeated key
  // keeps its last value.
  static Value Object(
      std::initializer_list<std::pair<std::string, Value>> fields);
  static Value List(std::vector<Value> elements);

  // Parses JSON text ("3", "\"hi\"", "[1, {\"a\": null}]", ...).
  // InvalidArgument naming the problem when `text` is not JSON or nests
  // deeper than kMaxJsonDepth.
  [[nodiscard]] static absl::StatusOr<Value> ParseJson(absl::string_view text);

  // How deep lists and objects may nest in a JSON value that travels in a
  // frame: deeper ones would pass protobuf's parse limit (100 nested
  // messages), and the receiver could not read the frame at all.
  static constexpr int kMaxJsonDepth = 32;

  // OK, or InvalidArgument when this is a JSON value whose lists and
  // objects nest deeper than kMaxJsonDepth. Typed values always pass.
  // Every runtime call that sends a value checks it first.
  [[nodiscard]] absl::Status CheckNesting() const;

  // A typed value holding `message` serialized, with its full type URL.
  template <typename M>
  static Value Message(const M& message) {
    static_assert(std::is_base_of<google::protobuf::Message, M>::value,
                  "Value::Message takes a protobuf message");
    if constexpr (std::is_final<M>::value) {
      // A generated message type: one type URL string for all its values.
      static const std::shared_ptr<const std::string>* const type_url =
          new std::shared_ptr<const std::string>(TypeUrlOf(message));
      return Value(*type_url, message.SerializeAsString());
    } else {
      return Value(TypeUrlOf(message), message.SerializeAsString());
    }
  }

  // A typed value from a type URL and a serialized message, as read off the
  // wire; the bytes are not parsed. InvalidArgument when the type URL has no
  // message name after its last '/'. The second form shares the URL string
  // with other values, as the values of one batch do.
  [[nodiscard]] static absl::StatusOr<Value> Typed(std::string type_url,
                                                   std::string message_bytes);
  [[nodiscard]] static absl::StatusOr<Value> Typed(
      std::shared_ptr<const std::string> type_url, std::string message_bytes);

  bool is_json() const { return !is_message_; }
  bool is_message() const { return is_message_; }

  // The JSON value; JSON null for a typed message.
  const google::protobuf::Value& json() const;
  // "type.googleapis.com/<full.message.Name>" for a typed message, "" for
  // JSON.
  const std::string& type_url() const;
  // The serialized message; "" for JSON.
  const std::string& message_bytes() const { return message_bytes_; }

  // Compact JSON text, e.g. {"n":3}. Non-finite numbers render as "NaN" and
  // "Infinity" strings (the proto3 JSON mapping). A typed message whose type
  // is linked into this program is rendered with the proto3 JSON mapping;
  // any other one (or a malformed one) as "<full.message.Name: N bytes>".
  std::string ToJson() const;

  // The message, when this holds an M. InvalidArgument otherwise, naming
  // what was expected and what was there, e.g. "expected a tether.v1.ActorId
  // message, got JSON number".
  template <typename M>
  [[nodiscard]] absl::StatusOr<M> As() const {
    M message;
    const absl::Status status = UnpackTo(&message);
    if (!status.ok()) return status;
    return message;
  }
  // As() for a message object the caller provides (e.g. a dynamic message).
  [[nodiscard]] absl::Status UnpackTo(google::protobuf::Message* message) const;

  // JSON scalars. InvalidArgument saying what was expected and what was
  // there. AsInt() accepts only numbers that are exact integers within the
  // int64_t range.
  [[nodiscard]] absl::StatusOr<int64_t> AsInt() const;
  [[nodiscard]] absl::StatusOr<double> AsDouble() const;
  [[nodiscard]] absl::StatusOr<std::string> AsString() const;
  [[nodiscard]] absl::StatusOr<bool> AsBool() const;

  // The field `name` of a JSON object: NotFound naming the field when it is
  // absent, InvalidArgument when this is not a JSON object.
  [[nodiscard]] absl::StatusOr<Value> Field(absl::string_view name) const;
  // The elements of a JSON list; InvalidArgument when this is not a list.
  [[nodiscard]] absl::StatusOr<std::vector<Value>> Elements() const;

  // Wire form; always sets type_url for a typed message.
  v1::Payload ToProto() const;
  // Reads a payload. A `message` payload with an empty type_url takes
  // `inherited_type_url` (the batch rule in payload.proto); with neither, or
  // with no kind set, or a type URL with no type name after its last '/',
  // it is InvalidArgument.
  [[nodiscard]] static absl::StatusOr<Value> FromProto(
      const v1::Payload& payload, absl::string_view inherited_type_url = "");
  // The same, taking the payload's contents instead of copying them.
  [[nodiscard]] static absl::StatusOr<Value> FromProto(
      v1::Payload&& payload, absl::string_view inherited_type_url = "");

  // Approximate encoded size as a standalone Payload, for batch limits.
  size_t ByteSizeLong() const;

  // Deep equality: JSON by content (numbers compare as doubles, so NaN is
  // not equal to itself), typed messages by type URL and bytes.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  Value(std::shared_ptr<const std::string> type_url, std::string message_bytes);

  static std::shared_ptr<const std::string> TypeUrlOf(
      const google::protobuf::Message& message);

  // "JSON number", "a tether.v1.ActorId message", ... for error messages.
  std::string Describe() const;

  bool is_message_ = false;
  // Only when !is_message_: typed values, the data path's common case, do
  // not pay for a JSON value they never hold.
  std::optional<google::protobuf::Value> json_;
  // Only when is_message_; shared, as values of one type are many.
  std::shared_ptr<const std::string> type_url_;
  std::string message_bytes_;  // Only when is_message_.
};

}  // namespace tether

#endif  // TETHER_VALUE_H_
