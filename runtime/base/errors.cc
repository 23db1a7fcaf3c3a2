#include "tether/errors.h"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <typeinfo>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "runtime/base/runtime_errors.h"

namespace tether {
namespace {

absl::StatusCode CodeForKind(v1::ErrorKind kind) {
  switch (kind) {
    case v1::ERROR_KIND_CONTEXT_CANCELLED:
      return absl::StatusCode::kCancelled;
    case v1::ERROR_KIND_STREAM_OVERRUN:
      return absl::StatusCode::kResourceExhausted;
    case v1::ERROR_KIND_PROTOCOL:
    case v1::ERROR_KIND_BAD_ARGUMENT:
      return absl::StatusCode::kInvalidArgument;
    case v1::ERROR_KIND_NO_SUCH_FUNCTION:
      return absl::StatusCode::kNotFound;
    case v1::ERROR_KIND_APPLICATION:
    case v1::ERROR_KIND_GROUP:
      return absl::StatusCode::kAborted;
    case v1::ERROR_KIND_TRANSPORT_CLOSED:
      return absl::StatusCode::kUnavailable;
    case v1::ERROR_KIND_ACTOR_FAILURE:
      return absl::StatusCode::kInternal;
    default:
      return absl::StatusCode::kUnknown;
  }
}

// "absl::StatusCode::kFailedPrecondition": the enumerator as C++ spells it.
// Takes Status::raw_code(), since code() folds unknown values into kUnknown.
std::string StatusCodeName(int raw_code) {
  static constexpr absl::string_view kNames[] = {
      "kOk",
      "kCancelled",
      "kUnknown",
      "kInvalidArgument",
      "kDeadlineExceeded",
      "kNotFound",
      "kAlreadyExists",
      "kPermissionDenied",
      "kResourceExhausted",
      "kFailedPrecondition",
      "kAborted",
      "kOutOfRange",
      "kUnimplemented",
      "kInternal",
      "kUnavailable",
      "kDataLoss",
      "kUnauthenticated",
  };
  if (raw_code >= 0 && raw_code < static_cast<int>(std::size(kNames))) {
    return absl::StrCat("absl::StatusCode::", kNames[raw_code]);
  }
  return absl::StrCat("absl::StatusCode(", raw_code, ")");
}

std::string Demangle(const char* mangled) {
  int status = 0;
  const std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  if (status != 0 || demangled == nullptr) return mangled;
  return demangled.get();
}

bool IsSet(const v1::ActorId& id) {
  return !id.name().empty() || !id.uuid().empty();
}

// "worker[3f2a9c1e]".
std::string FormatActor(const v1::ActorId& id) {
  if (!IsSet(id)) return "(unknown actor)";
  const absl::string_view name =
      id.name().empty() ? absl::string_view("?") : absl::string_view(id.name());
  if (id.uuid().empty()) return std::string(name);
  return absl::StrCat(name, "[", absl::string_view(id.uuid()).substr(0, 8),
                      "]");
}

// "type: message", or whichever of the two is set.
std::string Headline(absl::string_view type, absl::string_view message) {
  if (type.empty()) return std::string(message);
  if (message.empty()) return std::string(type);
  return absl::StrCat(type, ": ", message);
}

// An ErrorInfo raised at `source`: relay path [source].
v1::ErrorInfo NewInfo(v1::ErrorKind kind, absl::string_view type,
                      absl::string_view message, const v1::ActorId& source) {
  v1::ErrorInfo info;
  info.set_kind(kind);
  info.set_type(std::string(type));
  info.set_message(std::string(message));
  if (IsSet(source)) {
    *info.mutable_source() = source;
    *info.add_relay_path() = source;
  }
  return info;
}

bool HasKind(const absl::Status& status, v1::ErrorKind kind) {
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  return info.has_value() && info->kind() == kind;
}

// Appends the description of `info` to `out`, one line per fact: the
// headline after `first_prefix`, every other line after `indent`.
void Describe(const v1::ErrorInfo& info, absl::string_view first_prefix,
              const std::string& indent, std::string* out) {
  absl::StrAppend(out, first_prefix, Headline(info.type(), info.message()));
  const auto line = [&](absl::string_view label, absl::string_view value) {
    absl::StrAppend(out, "\n", indent, "  ", label, ": ", value);
  };
  if (info.has_source()) line("source", FormatActor(info.source()));
  if (info.relay_path_size() > 0) {
    std::vector<std::string> hops;
    for (int i = info.relay_path_size() - 1; i >= 0; --i) {
      hops.push_back(FormatActor(info.relay_path(i)));
    }
    line("relay path", absl::StrJoin(hops, " <- "));
  }
  if (!info.function().empty()) line("function", info.function());
  if (!info.context_id().empty()) line("context", info.context_id());
  if (info.has_canceller()) line("canceller", FormatActor(info.canceller()));
  if (info.has_sender()) line("sender", FormatActor(info.sender()));
  if (!info.trace().empty()) {
    absl::StrAppend(out, "\n", indent, "  trace:");
    for (absl::string_view trace_line :
         absl::StrSplit(info.trace(), '\n', absl::SkipEmpty())) {
      absl::StrAppend(out, "\n", indent, "    ", trace_line);
    }
  }
  if (info.errors_size() > 0) {
    absl::StrAppend(out, "\n", indent, "  errors (", info.errors_size(), "):");
    const std::string member_indent = indent + "      ";
    for (int i = 0; i < info.errors_size(); ++i) {
      absl::StrAppend(out, "\n");
      Describe(info.errors(i), absl::StrCat(indent, "    [", i + 1, "] "),
               member_indent, out);
    }
  }
}

}  // namespace

absl::Status MakeError(const v1::ErrorInfo& info) {
  absl::Status status(CodeForKind(info.kind()),
                      info.kind() == v1::ERROR_KIND_APPLICATION
                          ? Headline(info.type(), info.message())
                          : info.message());
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

std::optional<v1::ErrorInfo> GetErrorInfo(const absl::Status& status) {
  const absl::optional<absl::Cord> payload =
      status.GetPayload(kErrorInfoTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  v1::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return std::nullopt;
  return info;
}

absl::Status ContextCancelledError(const v1::ActorId& canceller,
                                   const v1::ActorId& source,
                                   absl::string_view message) {
  v1::ErrorInfo info = NewInfo(v1::ERROR_KIND_CONTEXT_CANCELLED,
                               kContextCancelledType, message, source);
  if (IsSet(canceller)) *info.mutable_canceller() = canceller;
  return MakeError(info);
}

absl::Status StreamOverrunError(const v1::ActorId& sender,
                                const v1::ActorId& source, size_t buffer_size) {
  v1::ErrorInfo info = NewInfo(
      v1::ERROR_KIND_STREAM_OVERRUN, kStreamOverrunType,
      absl::StrCat("receive buffer of ", buffer_size,
                   " values overrun by data from ", FormatActor(sender)),
      source);
  *info.mutable_sender() = sender;
  return MakeError(info);
}

absl::Status ProtocolError(const v1::ActorId& source,
                           absl::string_view message) {
  return MakeError(
      NewInfo(v1::ERROR_KIND_PROTOCOL, kProtocolErrorType, message, source));
}

absl::Status TransportClosedError(absl::string_view message) {
  return MakeError(NewInfo(v1::ERROR_KIND_TRANSPORT_CLOSED,
                           kTransportClosedType, message, v1::ActorId()));
}

absl::Status NoSuchFunctionError(const v1::ActorId& source,
                                 absl::string_view function) {
  v1::ErrorInfo info = NewInfo(
      v1::ERROR_KIND_NO_SUCH_FUNCTION, kNoSuchFunctionType,
      absl::StrCat("no function named \"", function, "\" is registered"),
      source);
  info.set_function(std::string(function));
  return MakeError(info);
}

absl::Status BadArgumentError(const v1::ActorId& source,
                              absl::string_view function,
                              absl::string_view message) {
  v1::ErrorInfo info = NewInfo(v1::ERROR_KIND_BAD_ARGUMENT, kBadArgumentType,
                               absl::StrCat(function, ": ", message), source);
  info.set_function(std::string(function));
  return MakeError(info);
}

absl::Status ActorFailureError(const v1::ActorId& actor,
                               absl::string_view message) {
  return MakeError(
      NewInfo(v1::ERROR_KIND_ACTOR_FAILURE, kActorFailureType, message, actor));
}

bool IsContextCancelled(const absl::Status& status) {
  return HasKind(status, v1::ERROR_KIND_CONTEXT_CANCELLED);
}

bool IsStreamOverrun(const absl::Status& status) {
  return HasKind(status, v1::ERROR_KIND_STREAM_OVERRUN);
}

bool IsProtocolError(const absl::Status& status) {
  return HasKind(status, v1::ERROR_KIND_PROTOCOL);
}

bool IsTransportClosed(const absl::Status& status) {
  return HasKind(status, v1::ERROR_KIND_TRANSPORT_CLOSED);
}

bool IsRemoteError(const absl::Status& status, const v1::ActorId& self) {
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  return info.has_value() && !info->source().uuid().empty() &&
         info->source().uuid() != self.uuid();
}

v1::ErrorInfo WithRelay(v1::ErrorInfo info, const v1::ActorId& relayer) {
  const int hops = info.relay_path_size();
  if (hops == 0 || info.relay_path(hops - 1).uuid() != relayer.uuid()) {
    *info.add_relay_path() = relayer;
  }
  return info;
}

v1::ErrorInfo BoxStatus(const absl::Status& status, const v1::ActorId& self) {
  if (status.ok()) {
    std::fprintf(stderr, "tether::BoxStatus: called with an OK status\n");
    std::abort();
  }
  std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  if (info.has_value()) return WithRelay(*std::move(info), self);
  return NewInfo(v1::ERROR_KIND_APPLICATION, StatusCodeName(status.raw_code()),
                 status.message(), self);
}

v1::ErrorInfo BoxException(const std::exception& e, const v1::ActorId& self) {
  return NewInfo(v1::ERROR_KIND_APPLICATION, Demangle(typeid(e).name()),
                 e.what(), self);
}

v1::ErrorInfo BoxUnknownException(const v1::ActorId& self) {
  const std::type_info* type = abi::__cxa_current_exception_type();
  return NewInfo(v1::ERROR_KIND_APPLICATION,
                 type == nullptr ? "unknown exception" : Demangle(type->name()),
                 "exception not derived from std::exception", self);
}

absl::Status ErrorGroup(std::vector<absl::Status> errors,
                        const v1::ActorId& source) {
  std::vector<absl::Status> failed;
  for (absl::Status& error : errors) {
    if (!error.ok()) failed.push_back(std::move(error));
  }
  if (failed.empty()) return absl::OkStatus();
  if (failed.size() == 1) return std::move(failed.front());

  std::vector<absl::string_view> messages;
  for (const absl::Status& error : failed) messages.push_back(error.message());
  v1::ErrorInfo group = NewInfo(
      v1::ERROR_KIND_GROUP, kErrorGroupType,
      absl::StrCat(failed.size(), " errors: ", absl::StrJoin(messages, "; ")),
      source);
  for (const absl::Status& error : failed) {
    std::optional<v1::ErrorInfo> info = GetErrorInfo(error);
    *group.add_errors() =
        info.has_value() ? *std::move(info) : BoxStatus(error, source);
  }
  return MakeError(group);
}

std::string DescribeError(const absl::Status& status) {
  if (status.ok()) return "OK";
  const std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value()) {
    return Headline(StatusCodeName(status.raw_code()), status.message());
  }
  std::string out;
  Describe(*info, "", "", &out);
  return out;
}

}  // namespace tether
