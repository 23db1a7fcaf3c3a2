#include "actorctl/actorctl_commands.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/actor_client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "tether/discovery.h"
#include "tether/errors.h"
#include "tether/msg_stream.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/value.h"

namespace tether {
namespace {

using google::protobuf::util::TimeUtil;

// How often the stdin forwarder checks for cancellation while idle.
constexpr absl::Duration kStdinPoll = absl::Milliseconds(50);

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "{}";
  }
  return json;
}

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string Short(const std::string& uuid) { return uuid.substr(0, 8); }

// `message` on one line: a parser's multi-line report keeps its first line.
std::string OneLine(absl::string_view message) {
  return std::string(message.substr(0, message.find('\n')));
}

// Remote failures (they carry ErrorInfo) exit 1; the rest (connection,
// lookup) exit 2.
int ReportError(const absl::Status& status, const CtlOptions& options) {
  std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value() || IsTransportClosed(status)) {
    return UsageError(std::string(status.message()));
  }
  if (options.json) {
    PrintLine(absl::StrCat("{\"error\":", ToJson(*info), "}"));
  } else {
    std::fprintf(stderr, "actorctl: remote error: %s\n",
                 DescribeError(status).c_str());
  }
  return kExitRemoteError;
}

absl::StatusOr<std::unique_ptr<Portal>> Find(ActorCore& self,
                                             const std::string& name,
                                             const CtlOptions& options) {
  absl::StatusOr<std::unique_ptr<Portal>> portal =
      FindActor(&self, name, options.timeout);
  if (!portal.ok()) return portal.status();
  if (*portal == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no actor named '", name, "' in registry ",
                     absl::StrJoin(self.registry_addresses(), ", ")));
  }
  return portal;
}

// Sends every JSON line of stdin; end of input closes this side. Reads only
// what poll reported, so it never blocks past a cancellation check.
absl::Status ForwardStdin(MsgStream& stream) {
  pollfd input = {STDIN_FILENO, POLLIN, 0};
  std::string pending;
  char buffer[4096];
  while (true) {
    TETHER_RETURN_IF_ERROR(CheckCancelled());
    const int ready = poll(
        &input, 1, static_cast<int>(absl::ToInt64Milliseconds(kStdinPoll)));
    if (ready <= 0) continue;
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return stream.Close();
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      absl::StatusOr<Value> value = Value::ParseJson(line);
      if (!value.ok()) {
        std::fprintf(stderr, "actorctl: skipped a line: %s\n",
                     OneLine(value.status().message()).c_str());
        continue;
      }
      absl::Status sent = stream.Send(*std::move(value));
      // Refused here, before sending (too large for the callee's frames):
      // that line only. A remote error carries ErrorInfo and ends the loop.
      if (absl::IsInvalidArgument(sent) && !GetErrorInfo(sent).has_value()) {
        std::fprintf(stderr, "actorctl: skipped a line: %s\n",
                     OneLine(sent.message()).c_str());
        continue;
      }
      TETHER_RETURN_IF_ERROR(sent);
    }
  }
}

absl::StatusOr<Value> ParseArgs(const std::string& args_json) {
  if (args_json.empty()) return Value();
  absl::StatusOr<Value> args = Value::ParseJson(args_json);
  if (!args.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--args: ", args.status().message()));
  }
  return args;
}

// One node of `tree`: an entry and the state its parent reports.
struct TreeNode {
  v1::RegistryEntry entry;
  std::string state = "running";
  std::vector<const TreeNode*> children;
};

std::string ChildState(v1::ChildInfo::State state) {
  switch (state) {
    case v1::ChildInfo::STATE_BOOTING:
      return "booting";
    case v1::ChildInfo::STATE_CANCELLING:
      return "cancelling";
    default:
      return "running";
  }
}

google::protobuf::Value TreeJson(const TreeNode& node) {
  google::protobuf::Value value;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  fields["name"].set_string_value(node.entry.actor().id().name());
  fields["uuid"].set_string_value(node.entry.actor().id().uuid());
  fields["pid"].set_number_value(static_cast<double>(node.entry.pid()));
  fields["state"].set_string_value(node.state);
  auto* addresses = fields["addresses"].mutable_list_value();
  for (const std::string& address : node.entry.actor().addresses()) {
    addresses->add_values()->set_string_value(address);
  }
  auto* children = fields["children"].mutable_list_value();
  for (const TreeNode* child : node.children) {
    *children->add_values() = TreeJson(*child);
  }
  return value;
}

void PrintTree(const TreeNode& node, const std::string& indent, bool last,
               bool top) {
  const v1::ActorId& id = node.entry.actor().id();
  const std::string branch = top ? "" : (last ? "`- " : "|- ");
  PrintLine(absl::StrCat(indent, branch, id.name(), "[", Short(id.uuid()),
                         "] pid ", node.entry.pid(), " ", node.state, " ",
                         absl::StrJoin(node.entry.actor().addresses(), ",")));
  const std::string next = top ? "" : indent + (last ? "   " : "|  ");
  for (size_t i = 0; i < node.children.size(); ++i) {
    PrintTree(*node.children[i], next, i + 1 == node.children.size(), false);
  }
}

}  // namespace

int UsageError(const std::string& message) {
  std::fprintf(stderr, "actorctl: error: %s\n", OneLine(message).c_str());
  return kExitUsage;
}

int ListActors(ActorCore& self, const CtlOptions& options) {
  absl::StatusOr<std::vector<v1::RegistryEntry>> entries =
      GetRegistry(&self, options.timeout);
  if (!entries.ok()) return ReportError(entries.status(), options);
  if (options.json) {
    v1::ListResponse list;
    for (const v1::RegistryEntry& entry : *entries) *list.add_entries() = entry;
    PrintLine(ToJson(list));
    return kExitOk;
  }
  PrintLine("NAME\tUUID\tPID\tADDRESSES");
  for (const v1::RegistryEntry& entry : *entries) {
    PrintLine(absl::StrCat(entry.actor().id().name(), "\t",
                           entry.actor().id().uuid(), "\t", entry.pid(), "\t",
                           absl::StrJoin(entry.actor().addresses(), ",")));
  }
  return kExitOk;
}

int ShowTree(ActorCore& self, const CtlOptions& options) {
  absl::StatusOr<std::vector<v1::RegistryEntry>> entries =
      GetRegistry(&self, options.timeout);
  if (!entries.ok()) return ReportError(entries.status(), options);
  std::map<std::string, TreeNode> nodes;
  for (const v1::RegistryEntry& entry : *entries) {
    nodes[entry.actor().id().uuid()].entry = entry;
  }
  // States come from each parent's own view of its children.
  for (auto& [uuid, node] : nodes) {
    for (const std::string& text : node.entry.actor().addresses()) {
      absl::StatusOr<Address> address = Address::Parse(text);
      if (!address.ok()) continue;
      absl::StatusOr<v1::ActorInfo> info =
          ActorClient::Dial(*address, self.token()).Info(options.timeout);
      if (!info.ok()) {
        node.state = "unreachable";
        continue;
      }
      for (const v1::ChildInfo& child : info->children()) {
        auto it = nodes.find(child.actor().id().uuid());
        if (it != nodes.end()) it->second.state = ChildState(child.state());
      }
      break;
    }
  }
  std::vector<const TreeNode*> roots;
  for (auto& [uuid, node] : nodes) {
    auto parent = nodes.find(node.entry.parent().uuid());
    if (node.entry.has_parent() && parent != nodes.end()) {
      parent->second.children.push_back(&node);
    } else {
      roots.push_back(&node);
    }
  }
  if (options.json) {
    google::protobuf::Value list;
    for (const TreeNode* root : roots) {
      *list.mutable_list_value()->add_values() = TreeJson(*root);
    }
    PrintLine(Value::Json(list).ToJson());
    return kExitOk;
  }
  for (const TreeNode* root : roots) PrintTree(*root, "", true, true);
  return kExitOk;
}

int ShowInfo(ActorCore& self, const std::string& name,
             const CtlOptions& options) {
  absl::StatusOr<std::unique_ptr<Portal>> portal = Find(self, name, options);
  if (!portal.ok()) return ReportError(portal.status(), options);
  absl::StatusOr<v1::ActorInfo> info =
      ActorClient::Dial((*portal)->address(), self.token())
          .Info(options.timeout);
  if (!info.ok()) return ReportError(info.status(), options);
  if (options.json) {
    PrintLine(ToJson(*info));
    return kExitOk;
  }
  PrintLine(absl::StrCat(info->id().name(), "[", info->id().uuid(), "]"));
  PrintLine(absl::StrCat("  pid        ", info->pid()));
  PrintLine(
      absl::StrCat("  addresses  ", absl::StrJoin(info->addresses(), ", ")));
  PrintLine(absl::StrCat("  uptime     ",
                         absl::FormatDuration(absl::Seconds(
                             TimeUtil::DurationToSeconds(info->uptime())))));
  if (info->has_parent()) {
    PrintLine(absl::StrCat("  parent     ", info->parent().id().name(), "[",
                           info->parent().id().uuid(), "]"));
  }
  // Since start, over every context stream, open or finished.
  PrintLine(absl::StrCat("  frames     sent ", info->frames_sent(),
                         " received ", info->frames_received()));
  PrintLine(absl::StrCat("  contexts   ", info->contexts_size()));
  for (const v1::ContextInfo& context : info->contexts()) {
    PrintLine(absl::StrCat(
        "    ", context.function(), " ",
        v1::ContextInfo::Side_Name(context.side()), " ",
        v1::ContextInfo::State_Name(context.state()), " peer ",
        context.peer().name(), "[", Short(context.peer().uuid()),
        "] payloads sent ", context.payloads_sent(), " received ",
        context.payloads_received(), ", frames sent ", context.frames_sent(),
        " received ", context.frames_received()));
  }
  PrintLine(absl::StrCat("  children   ", info->children_size()));
  for (const v1::ChildInfo& child : info->children()) {
    PrintLine(absl::StrCat("    ", child.actor().id().name(), "[",
                           child.actor().id().uuid(), "] pid ", child.pid(),
                           " ", ChildState(child.state())));
  }
  return kExitOk;
}

int CallFunction(ActorCore& self, const std::string& name,
                 const std::string& function, const std::string& args_json,
                 const CtlOptions& options) {
  absl::StatusOr<Value> args = ParseArgs(args_json);
  if (!args.ok()) return UsageError(std::string(args.status().message()));
  absl::StatusOr<std::unique_ptr<Portal>> portal = Find(self, name, options);
  if (!portal.ok()) return ReportError(portal.status(), options);
  absl::StatusOr<Value> result = (*portal)->Run(function, *std::move(args));
  if (!result.ok()) return ReportError(result.status(), options);
  PrintLine(result->ToJson());
  return kExitOk;
}

int StreamFunction(ActorCore& self, const std::string& name,
                   const std::string& function, const std::string& args_json,
                   ShutdownSignal* interrupt, const CtlOptions& options) {
  absl::StatusOr<Value> args = ParseArgs(args_json);
  if (!args.ok()) return UsageError(std::string(args.status().message()));
  absl::StatusOr<std::unique_ptr<Portal>> portal = Find(self, name, options);
  if (!portal.ok()) return ReportError(portal.status(), options);

  // Ctrl-C cancels the open context, or the context about to open; the
  // watcher ends with the command.
  absl::Mutex mu;
  Context* open = nullptr;  // while the block runs
  bool interrupted = false;
  bool finished = false;
  std::thread watcher([&] {
    interrupt->Wait();
    absl::MutexLock lock(&mu);
    if (finished) return;
    interrupted = true;
    if (open != nullptr) open->Cancel();
  });

  std::optional<absl::Status> cancelled;
  const absl::Status status = (*portal)->OpenContext(
      function, *std::move(args),
      [&](Context& ctx, const Value& started) -> absl::Status {
        {
          absl::MutexLock lock(&mu);
          open = &ctx;
          if (interrupted) ctx.Cancel();
        }
        auto forget = absl::MakeCleanup([&] {
          absl::MutexLock lock(&mu);
          open = nullptr;
        });
        PrintLine(absl::StrCat("{\"started\":", started.ToJson(), "}"));
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        TaskGroup forwarder;
        forwarder.Spawn("stdin", [&stream] { return ForwardStdin(stream); });
        for (const Value& value : stream) PrintLine(value.ToJson());
        forwarder.CancelAll(absl::CancelledError("the stream ended"));
        forwarder.Wait().IgnoreError();
        absl::Status ended = stream.status();
        if (ctx.cancel_called()) {
          cancelled = ctx.Result().status();
          return absl::OkStatus();
        }
        TETHER_RETURN_IF_ERROR(ended);
        TETHER_ASSIGN_OR_RETURN(Value result, ctx.Result());
        PrintLine(absl::StrCat("{\"returned\":", result.ToJson(), "}"));
        return absl::OkStatus();
      });
  {
    absl::MutexLock lock(&mu);
    finished = true;
  }
  interrupt->Request("the stream command ended");
  watcher.join();
  if (cancelled.has_value()) {
    std::optional<v1::ErrorInfo> info = GetErrorInfo(*cancelled);
    PrintLine(absl::StrCat(
        "{\"cancelled\":", info.has_value() ? ToJson(*info) : "{}", "}"));
    return kExitOk;
  }
  if (!status.ok()) return ReportError(status, options);
  return kExitOk;
}

int CancelActor(ActorCore& self, const std::string& name,
                const CtlOptions& options) {
  absl::StatusOr<std::unique_ptr<Portal>> portal = Find(self, name, options);
  if (!portal.ok()) return ReportError(portal.status(), options);
  absl::StatusOr<v1::ActorId> cancelled =
      (*portal)->CancelActor(options.timeout);
  if (!cancelled.ok()) return ReportError(cancelled.status(), options);
  if (options.json) {
    PrintLine(absl::StrCat("{\"cancelled\":", ToJson(*cancelled), "}"));
  } else {
    PrintLine(absl::StrCat("cancelled ", cancelled->name(), "[",
                           cancelled->uuid(), "]"));
  }
  return kExitOk;
}

int PrintToken(const ActorCore& self) {
  PrintLine(self.token().SecretForTransfer());
  return kExitOk;
}

}  // namespace tether
