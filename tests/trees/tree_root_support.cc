#include "tests/trees/tree_root_support.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/actor/actor_core.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether::tree_root {

std::string KindOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  const std::optional<tether::v1::ErrorInfo> info =
      tether::GetErrorInfo(status);
  if (!info.has_value()) {
    return absl::StrCat("untyped:", absl::StatusCodeToString(status.code()));
  }
  return tether::v1::ErrorKind_Name(info->kind());
}

std::string ErrorCanceller(const absl::Status& status) {
  const std::optional<tether::v1::ErrorInfo> info =
      tether::GetErrorInfo(status);
  if (!info.has_value() || info->canceller().uuid().empty()) return "unset";
  return info->canceller().uuid();
}

std::string ContextCanceller(const Context& ctx) {
  const std::optional<tether::v1::ActorId> canceller = ctx.canceller();
  if (!canceller.has_value() || canceller->uuid().empty()) return "unset";
  return canceller->uuid();
}

absl::Status ApplicationError(absl::string_view type,
                              absl::string_view message) {
  tether::v1::ErrorInfo info;
  info.set_kind(tether::v1::ERROR_KIND_APPLICATION);
  info.set_type(std::string(type));
  info.set_message(std::string(message));
  if (ActorCore* self = ActorCore::Current()) {
    *info.mutable_source() = self->id();
    *info.add_relay_path() = self->id();
  }
  return tether::MakeError(info);
}

absl::StatusOr<int64_t> IntField(const Value& value, absl::string_view name) {
  TETHER_ASSIGN_OR_RETURN(Value field, value.Field(name));
  return field.AsInt();
}

absl::Status SleepUntilCancelled() {
  while (true) TETHER_RETURN_IF_ERROR(tether::Sleep(absl::Hours(24)));
}

absl::Status ReceiveUntilEnd(MsgStream& stream, int64_t* received) {
  absl::Status ended;
  while (ended.ok()) {
    absl::StatusOr<Value> value =
        stream.Receive(absl::Now() + kScenarioDeadline);
    if (value.ok()) ++*received;
    ended = value.status();
  }
  return ended;
}

}  // namespace tether::tree_root
