// File: runtime/yield_wire.h
//
// The wire form of Yield batches, written and read value by value without
// building tether.v1.Payload messages. A context's data path is the hot
// path of the runtime: the sender appends each value straight to the frame
// that will carry it, and the receiver decodes a frame's payloads straight
// into Values, so a payload costs a copy of its bytes, not a message object
// with strings of its own on each side.
//
//   YieldFrameBuilder frame;
//   frame.Append(Value::Int(1));
//   frame.Append(Value::Message(blob));
//   std::string bytes = std::move(frame).Finish();  // a serialized v1::Frame
//
//   if (std::optional<absl::string_view> yield = LoneYieldOf(bytes)) {
//     absl::StatusOr<std::vector<Value>> values = DecodeYield(*yield);
//   }
//
// Everything here follows the batch rule of payload.proto: a typed payload
// whose type URL equals that of the batch's previous typed payload omits it.
// Reading is exactly as permissive as protobuf's parser: unknown fields are
// skipped, strings must be UTF-8.

#ifndef TETHER_RUNTIME_YIELD_WIRE_H_
#define TETHER_RUNTIME_YIELD_WIRE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/value.h"

namespace tether {

// One Frame{yield_batch: Yield{values: ...}} being filled. Thread-compatible.
class YieldFrameBuilder {
 public:
  YieldFrameBuilder();

  // Appends `value` as the batch's next payload.
  void Append(const Value& value);

  size_t payloads() const { return payloads_; }
  // The sum of the appended values' Value::ByteSizeLong(), for batch limits.
  size_t payload_bytes() const { return payload_bytes_; }

  // The serialized tether.v1.Frame. The builder is spent.
  std::string Finish() &&;

 private:
  // Room kept in front of the Yield for the frame's tag and length.
  static constexpr size_t kHeaderRoom = 6;

  std::string bytes_;
  size_t payloads_ = 0;
  size_t payload_bytes_ = 0;
  // The type URL of the batch's latest typed payload.
  std::string type_url_;
};

// When `frame`, a serialized tether.v1.Frame, consists of a yield_batch and
// nothing else (as every frame a YieldFrameBuilder makes), the serialized
// Yield inside it; nullopt for every other frame, well-formed or not.
std::optional<absl::string_view> LoneYieldOf(absl::string_view frame);

// The number of payloads of a serialized tether.v1.Yield, without decoding
// them. InvalidArgument when the bytes are not a well-formed Yield.
[[nodiscard]] absl::StatusOr<size_t> CountYieldPayloads(
    absl::string_view yield);

// The payloads of a serialized tether.v1.Yield, in order. InvalidArgument
// when the bytes are not a well-formed Yield, or naming the payload's index
// when one is not a valid payload.
[[nodiscard]] absl::StatusOr<std::vector<Value>> DecodeYield(
    absl::string_view yield);

}  // namespace tether

#endif  // TETHER_RUNTIME_YIELD_WIRE_H_
