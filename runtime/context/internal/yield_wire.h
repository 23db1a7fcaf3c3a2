// File: runtime/context/internal/yield_wire.h
//
// The wire form of Yield batches, written and read value by value without
// building tether.v1.Payload messages. A context's data path is the hot
// path of the runtime: the sender appends each value straight to the frame
// that will carry it, and the receiving task decodes each payload straight
// into a Value as it takes it, so a payload costs a copy of its bytes, not a
// message object with strings of its own on each side.
//
//   YieldFrameBuilder frame;
//   frame.Append(Value::Int(1));
//   frame.Append(Value::Message(blob));
//   std::string bytes = std::move(frame).Finish();  // a serialized v1::Frame
//
//   if (std::optional<absl::string_view> yield = LoneYieldOf(bytes)) {
//     absl::StatusOr<YieldBatch> batch = YieldBatch::Parse(
//         std::string(*yield));
//     absl::StatusOr<Value> first = batch->Next();  // decoded here
//   }
//
// Everything here follows the batch rule of payload.proto: a typed payload
// whose type URL equals that of the batch's previous typed payload omits it.
// Reading accepts what protobuf's parser accepts (unknown fields are
// skipped, strings must be UTF-8), except unknown fields encoded as groups,
// which no peer has reason to send.

#ifndef TETHER_RUNTIME_CONTEXT_INTERNAL_YIELD_WIRE_H_
#define TETHER_RUNTIME_CONTEXT_INTERNAL_YIELD_WIRE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tether/value.h"

namespace tether {
namespace context_internal {

// One Frame{yield_batch: Yield{values: ...}} being filled. Thread-compatible.
class YieldFrameBuilder {
 public:
  YieldFrameBuilder();

  // Appends `value` as the batch's next payload.
  void Append(const Value& value);

  size_t payloads() const { return payloads_; }

  // The serialized tether.v1.Frame. The builder is spent.
  std::string Finish() &&;

 private:
  // Room kept in front of the Yield for the frame's tag and length.
  static constexpr size_t kHeaderRoom = 6;

  std::string bytes_;
  size_t payloads_ = 0;
  // The type URL of the batch's latest typed payload.
  std::string type_url_;
};

// When `frame`, a serialized tether.v1.Frame, consists of a yield_batch and
// nothing else (as every frame a YieldFrameBuilder makes), the serialized
// Yield inside it; nullopt for every other frame, well-formed or not.
std::optional<absl::string_view> LoneYieldOf(absl::string_view frame);

// The payloads of one serialized tether.v1.Yield, decoded one at a time, so
// that a receiver decodes (and allocates) each payload on the thread that
// takes it. Thread-compatible.
class YieldBatch {
 public:
  // Takes the bytes of a Yield. InvalidArgument when they are not a
  // well-formed Yield; the payloads themselves are checked by Next().
  [[nodiscard]] static absl::StatusOr<YieldBatch> Parse(std::string yield);

  // The number of payloads Parse() would find, without copying the bytes
  // (a batch that will be dropped unread needs no more); errors as for
  // Parse().
  [[nodiscard]] static absl::StatusOr<size_t> Count(absl::string_view yield);

  // A batch whose bytes were already counted. REQUIRES: Count(yield)
  // returned `count`.
  YieldBatch(std::string yield, size_t count);

  // Payloads not yet taken.
  size_t size() const { return remaining_; }
  bool empty() const { return remaining_ == 0; }

  // Decodes and takes the next payload. InvalidArgument naming its index in
  // the batch when it is not a valid payload. REQUIRES: !empty().
  [[nodiscard]] absl::StatusOr<Value> Next();

  // Keeps only the next `count` payloads. REQUIRES: count <= size().
  void Truncate(size_t count) { remaining_ = count; }

 private:
  std::string yield_;
  // Where the next payload's field starts.
  size_t offset_ = 0;
  size_t remaining_;
  size_t index_ = 0;
  // The type URL in force for payloads that omit theirs.
  std::shared_ptr<const std::string> type_url_;
};

}  // namespace context_internal
}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_INTERNAL_YIELD_WIRE_H_
