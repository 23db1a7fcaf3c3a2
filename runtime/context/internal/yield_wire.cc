#include "runtime/context/internal/yield_wire.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/common.h"

namespace tether {
namespace context_internal {
namespace {

namespace pb = google::protobuf;

// Wire types and the field numbers of frame.proto and payload.proto read or
// written here.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kDelimited = 2;
constexpr int kFixed32 = 5;
constexpr uint32_t kFrameYieldBatch = 4;
constexpr uint32_t kYieldValues = 1;
constexpr uint32_t kPayloadJson = 1;
constexpr uint32_t kPayloadMessage = 2;
constexpr uint32_t kPayloadTypeUrl = 3;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

size_t VarintSize(uint64_t value) {
  return pb::io::CodedOutputStream::VarintSize64(value);
}

// Every field written here has a number below 16: a one-byte key.
void AppendKey(uint32_t field, std::string* out) {
  out->push_back(static_cast<char>(field << 3 | kDelimited));
}

size_t DelimitedSize(size_t length) { return 1 + VarintSize(length) + length; }

void AppendDelimited(uint32_t field, absl::string_view bytes,
                     std::string* out) {
  AppendKey(field, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// Reads protobuf wire fields off a byte range. Every method returns false
// on malformed input.
class WireReader {
 public:
  explicit WireReader(absl::string_view bytes) : rest_(bytes) {}

  bool done() const { return rest_.empty(); }
  size_t rest_size() const { return rest_.size(); }

  bool ReadKey(uint32_t* field, int* wire_type) {
    uint64_t key;
    if (!ReadVarint(&key) || key >> 32 != 0 || key >> 3 == 0) return false;
    *field = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<int>(key & 7);
    return true;
  }

  bool ReadDelimited(absl::string_view* bytes) {
    uint64_t length;
    if (!ReadVarint(&length) || length > rest_.size()) return false;
    *bytes = rest_.substr(0, length);
    rest_.remove_prefix(length);
    return true;
  }

  // Skips the value of a field of `wire_type`. Groups (deprecated, never
  // in these messages) count as malformed.
  bool Skip(int wire_type) {
    uint64_t ignored;
    absl::string_view ignored_bytes;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&ignored);
      case kFixed64:
        return SkipBytes(8);
      case kDelimited:
        return ReadDelimited(&ignored_bytes);
      case kFixed32:
        return SkipBytes(4);
      default:
        return false;
    }
  }

 private:
  bool ReadVarint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64 && !rest_.empty(); shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  bool SkipBytes(size_t n) {
    if (rest_.size() < n) return false;
    rest_.remove_prefix(n);
    return true;
  }

  absl::string_view rest_;
};

// Reads the next `values` entry of a serialized Yield into `*payload`,
// skipping other fields. False at the end; InvalidArgument when malformed.
absl::StatusOr<bool> NextPayloadBytes(WireReader& reader,
                                      absl::string_view* payload) {
  while (!reader.done()) {
    uint32_t field;
    int wire_type;
    if (!reader.ReadKey(&field, &wire_type)) {
      return absl::InvalidArgumentError("malformed Yield frame");
    }
    if (field == kYieldValues && wire_type == kDelimited) {
      if (!reader.ReadDelimited(payload)) {
        return absl::InvalidArgumentError("malformed Yield frame");
      }
      return true;
    }
    if (!reader.Skip(wire_type)) {
      return absl::InvalidArgumentError("malformed Yield frame");
    }
  }
  return false;
}

// Decodes one payload. `*inherited_type_url` is the type URL in force from
// the batch's earlier payloads (null before the first); a typed payload that
// sets one updates it. Values of one type share the URL string.
absl::StatusOr<Value> DecodePayload(
    absl::string_view bytes,
    std::shared_ptr<const std::string>* inherited_type_url) {
  enum class Kind { kNone, kJson, kMessage };
  Kind kind = Kind::kNone;
  // Built only for a JSON payload: most payloads of a stream are messages.
  std::optional<pb::Value> json;
  absl::string_view message;
  absl::string_view type_url;
  WireReader reader(bytes);
  while (!reader.done()) {
    uint32_t field;
    int wire_type;
    if (!reader.ReadKey(&field, &wire_type)) {
      return absl::InvalidArgumentError("malformed payload");
    }
    const bool known = wire_type == kDelimited &&
                       (field == kPayloadJson || field == kPayloadMessage ||
                        field == kPayloadTypeUrl);
    if (!known) {
      if (!reader.Skip(wire_type)) {
        return absl::InvalidArgumentError("malformed payload");
      }
      continue;
    }
    absl::string_view contents;
    if (!reader.ReadDelimited(&contents)) {
      return absl::InvalidArgumentError("malformed payload");
    }
    if (field == kPayloadJson) {
      // As protobuf does: a oneof member seen again merges into itself.
      if (kind != Kind::kJson) json.emplace();
      kind = Kind::kJson;
      pb::io::CodedInputStream in(
          reinterpret_cast<const uint8_t*>(contents.data()),
          static_cast<int>(contents.size()));
      if (!json->MergePartialFromCodedStream(&in) ||
          !in.ConsumedEntireMessage()) {
        return absl::InvalidArgumentError("malformed JSON payload");
      }
    } else if (field == kPayloadMessage) {
      kind = Kind::kMessage;
      message = contents;
    } else {
      type_url = contents;
    }
  }
  if (!pb::internal::IsStructurallyValidUTF8(
          type_url.data(), static_cast<int>(type_url.size()))) {
    return absl::InvalidArgumentError("type_url is not UTF-8");
  }
  switch (kind) {
    case Kind::kJson:
      return Value::Json(std::move(*json));
    case Kind::kMessage:
      if (!type_url.empty() && (*inherited_type_url == nullptr ||
                                **inherited_type_url != type_url)) {
        *inherited_type_url = std::make_shared<const std::string>(type_url);
      }
      if (*inherited_type_url == nullptr) {
        return absl::InvalidArgumentError(
            "message payload has no type_url and none is inherited from an "
            "earlier payload of its batch");
      }
      return Value::Typed(*inherited_type_url, std::string(message));
    case Kind::kNone:
      break;
  }
  return absl::InvalidArgumentError("payload has neither json nor message");
}

}  // namespace

YieldFrameBuilder::YieldFrameBuilder() : bytes_(kHeaderRoom, '\0') {}

void YieldFrameBuilder::Append(const Value& value) {
  AppendKey(kYieldValues, &bytes_);
  if (value.is_json()) {
    const size_t json_size = value.json().ByteSizeLong();
    AppendVarint(DelimitedSize(json_size), &bytes_);
    AppendKey(kPayloadJson, &bytes_);
    AppendVarint(json_size, &bytes_);
    const size_t start = bytes_.size();
    bytes_.resize(start + json_size);
    value.json().SerializeWithCachedSizesToArray(
        reinterpret_cast<uint8_t*>(&bytes_[start]));
  } else {
    const bool spell_type_url = value.type_url() != type_url_;
    AppendVarint(
        DelimitedSize(value.message_bytes().size()) +
            (spell_type_url ? DelimitedSize(value.type_url().size()) : 0),
        &bytes_);
    AppendDelimited(kPayloadMessage, value.message_bytes(), &bytes_);
    if (spell_type_url) {
      AppendDelimited(kPayloadTypeUrl, value.type_url(), &bytes_);
      type_url_ = value.type_url();
    }
  }
  ++payloads_;
}

std::string YieldFrameBuilder::Finish() && {
  std::string header;
  AppendKey(kFrameYieldBatch, &header);
  const size_t yield_bytes = bytes_.size() - kHeaderRoom;
  AppendVarint(yield_bytes, &header);
  // The header goes right before the Yield, in the room kept for it.
  const size_t start = kHeaderRoom - header.size();
  bytes_.replace(start, header.size(), header);
  bytes_.erase(0, start);
  return std::move(bytes_);
}

std::optional<absl::string_view> LoneYieldOf(absl::string_view frame) {
  WireReader reader(frame);
  uint32_t field;
  int wire_type;
  absl::string_view yield;
  if (!reader.ReadKey(&field, &wire_type) || field != kFrameYieldBatch ||
      wire_type != kDelimited || !reader.ReadDelimited(&yield) ||
      !reader.done()) {
    return std::nullopt;
  }
  return yield;
}

absl::StatusOr<YieldBatch> YieldBatch::Parse(std::string yield) {
  const absl::StatusOr<size_t> count = Count(yield);
  if (!count.ok()) return count.status();
  return YieldBatch(std::move(yield), *count);
}

absl::StatusOr<size_t> YieldBatch::Count(absl::string_view yield) {
  WireReader reader(yield);
  size_t count = 0;
  absl::string_view payload;
  while (true) {
    const absl::StatusOr<bool> more = NextPayloadBytes(reader, &payload);
    if (!more.ok()) return more.status();
    if (!*more) return count;
    ++count;
  }
}

YieldBatch::YieldBatch(std::string yield, size_t count)
    : yield_(std::move(yield)), remaining_(count) {}

absl::StatusOr<Value> YieldBatch::Next() {
  WireReader reader(absl::string_view(yield_).substr(offset_));
  absl::string_view bytes;
  const absl::StatusOr<bool> found = NextPayloadBytes(reader, &bytes);
  offset_ = yield_.size() - reader.rest_size();
  --remaining_;
  const size_t index = index_++;
  absl::StatusOr<Value> value =
      found.value_or(false)
          ? DecodePayload(bytes, &type_url_)
          // Parse() counted the entries, so this cannot happen.
          : absl::InternalError("the batch ended early");
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload ", index, " of batch: ", value.status().message()));
  }
  return value;
}

}  // namespace context_internal
}  // namespace tether
