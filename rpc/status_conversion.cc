#include "rpc/status_conversion.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/rpc/status.pb.h"
#include "tether/errors.h"
#include "tether/v1/error.pb.h"

namespace tether {

// Both enumerations are the canonical google.rpc.Code values, so a cast is a
// faithful conversion.
static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));

namespace {

// Cuts `text` to at most `max_bytes`, on a UTF-8 character boundary (proto3
// strings must stay valid UTF-8), marking the cut with "...".
void Cut(std::string& text, size_t max_bytes) {
  constexpr absl::string_view kMark = "...";
  if (text.size() <= max_bytes) return;
  size_t keep = max_bytes > kMark.size() ? max_bytes - kMark.size() : 0;
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) {
    --keep;
  }
  text.resize(keep);
  text.append(kMark.data(), std::min(kMark.size(), max_bytes));
}

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Calls `visit(reflection, field)` for every field set in `message`, then
// `recurse(sub)` for every message directly inside that field.
template <typename Visit, typename Recurse>
void ForEachField(Message& message, Visit visit, Recurse recurse) {
  const google::protobuf::Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    visit(reflection, field);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!field->is_repeated()) {
      recurse(*reflection.MutableMessage(&message, field));
      continue;
    }
    for (int i = 0; i < reflection.FieldSize(message, field); ++i) {
      recurse(*reflection.MutableRepeatedMessage(&message, field, i));
    }
  }
}

// Applies Cut to every string field of `message`, recursively.
void CutStrings(Message& message, size_t max_bytes) {
  ForEachField(
      message,
      [&](const google::protobuf::Reflection& reflection,
          const FieldDescriptor* field) {
        if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) return;
        if (field->is_repeated()) {
          for (int i = 0; i < reflection.FieldSize(message, field); ++i) {
            std::string text = reflection.GetRepeatedString(message, field, i);
            Cut(text, max_bytes);
            reflection.SetRepeatedString(&message, field, i, std::move(text));
          }
        } else {
          std::string text = reflection.GetString(message, field);
          Cut(text, max_bytes);
          reflection.SetString(&message, field, std::move(text));
        }
      },
      [max_bytes](Message& sub) { CutStrings(sub, max_bytes); });
}

// Keeps the first `max_elements` of every repeated field of `message`,
// recursively.
void CutRepeated(Message& message, int max_elements) {
  ForEachField(
      message,
      [&](const google::protobuf::Reflection& reflection,
          const FieldDescriptor* field) {
        if (!field->is_repeated()) return;
        while (reflection.FieldSize(message, field) > max_elements) {
          reflection.RemoveLast(&message, field);
        }
      },
      [max_elements](Message& sub) { CutRepeated(sub, max_elements); });
}

// `info` cut down to kMaxTrailerErrorInfoBytes, each step only while it is
// still too large: unknown fields (a peer's); long strings (a message or a
// trace, usually) down to 64 bytes, which keeps names, uuids and type names
// whole; then long lists (relay path, nested errors); then the strings
// further.
v1::ErrorInfo FitForTrailer(v1::ErrorInfo info) {
  const auto too_large = [&info] {
    return info.ByteSizeLong() > kMaxTrailerErrorInfoBytes;
  };
  if (too_large()) info.DiscardUnknownFields();
  for (size_t max_bytes = 512; too_large() && max_bytes >= 64; max_bytes /= 2) {
    CutStrings(info, max_bytes);
  }
  for (int max_elements = 8; too_large() && max_elements >= 0;
       max_elements = max_elements > 0 ? max_elements / 2 : -1) {
    CutRepeated(info, max_elements);
  }
  for (size_t max_bytes = 32; too_large() && max_bytes >= 8; max_bytes /= 2) {
    CutStrings(info, max_bytes);
  }
  return info;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  Cut(message, kMaxTrailerMessageBytes);
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value()) return grpc::Status(code, std::move(message));

  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  details.add_details()->PackFrom(FitForTrailer(*info));
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    return result;
  }
  for (const google::protobuf::Any& detail : details.details()) {
    v1::ErrorInfo info;
    if (detail.UnpackTo(&info)) {
      result.SetPayload(kErrorInfoTypeUrl, absl::Cord(detail.value()));
      break;
    }
  }
  return result;
}

}  // namespace tether
