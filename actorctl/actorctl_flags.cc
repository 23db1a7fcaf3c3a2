#include "actorctl/actorctl_flags.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace tether {

const char kCtlHelp[] =
    "usage: actorctl [FLAGS] COMMAND [OPERANDS]\n"
    "\n"
    "Commands:\n"
    "  ls                     registered actors: name, uuid, pid, addresses\n"
    "  tree                   the supervision tree, parent -> children\n"
    "  info NAME              an actor's state, counters, contexts and\n"
    "                         children\n"
    "  call NAME FUNCTION     run a plain function (arguments: --args)\n"
    "  stream NAME FUNCTION   open a context (arguments: --args); stdin\n"
    "                         lines are sent, Ctrl-C cancels\n"
    "  cancel NAME            cancel an actor\n"
    "  token                  print the tree's token, for other clients\n"
    "                         (grpcurl -H \"authorization: Bearer TOKEN\")\n"
    "\n"
    "Flags (--flag=value or --flag value, anywhere on the line):\n"
    "  --registry=ADDR        a registrar's host:port or unix:/path, or\n"
    "                         etcd://host:port (default: $TETHER_REGISTRY,\n"
    "                         else the newest root on this machine)\n"
    "  --token_file=PATH      the tree's token (default: $TETHER_TOKEN_FILE,\n"
    "                         else that of the root serving the registry\n"
    "                         on this machine)\n"
    "  --json                 print JSON\n"
    "  --args=JSON            the arguments of call and stream (default:\n"
    "                         null)\n"
    "  --timeout=DURATION     deadline of each lookup and call, e.g. 500ms,\n"
    "                         10s (default: 5s)\n"
    "  --log_level=LEVEL      debug, info, warning or error (default:\n"
    "                         warning)\n"
    "  --help, -h             print this help\n"
    "\n"
    "Exit codes: 0 success, 1 remote error, 2 usage or connection error.\n";

const char kCtlUsageHint[] =
    "usage: actorctl [FLAGS] ls|tree|info|call|stream|cancel|token "
    "[OPERANDS] "
    "(actorctl --help for more)";

namespace {

// One flag: its name and how its value goes into a CtlCommandLine.
struct FlagSpec {
  absl::string_view name;
  // A bool flag takes its value only as `--name=VALUE`; alone it means
  // true, and it never takes the next argument.
  bool is_bool;
  absl::Status (*set)(absl::string_view flag, absl::string_view value,
                      CtlCommandLine& line);
};

absl::Status ParseBool(absl::string_view flag, absl::string_view value,
                       bool& out) {
  if (!absl::SimpleAtob(value, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", value, "' is not true or false"));
  }
  return absl::OkStatus();
}

constexpr FlagSpec kFlags[] = {
    {"registry", false,
     [](absl::string_view, absl::string_view value, CtlCommandLine& line) {
       line.registry = std::string(value);
       return absl::OkStatus();
     }},
    {"token_file", false,
     [](absl::string_view, absl::string_view value, CtlCommandLine& line) {
       line.token_file = std::string(value);
       return absl::OkStatus();
     }},
    {"json", true,
     [](absl::string_view flag, absl::string_view value, CtlCommandLine& line) {
       return ParseBool(flag, value, line.json);
     }},
    {"args", false,
     [](absl::string_view, absl::string_view value, CtlCommandLine& line) {
       line.args = std::string(value);
       return absl::OkStatus();
     }},
    {"timeout", false,
     [](absl::string_view flag, absl::string_view value, CtlCommandLine& line) {
       absl::Duration timeout;
       if (!absl::ParseDuration(value, &timeout) ||
           timeout <= absl::ZeroDuration() ||
           timeout == absl::InfiniteDuration()) {
         return absl::InvalidArgumentError(absl::StrCat(
             flag, ": '", value,
             "' is not a positive duration (want e.g. 500ms, 10s, 1m)"));
       }
       line.timeout = timeout;
       return absl::OkStatus();
     }},
    {"log_level", false,
     [](absl::string_view flag, absl::string_view value, CtlCommandLine& line) {
       absl::StatusOr<LogLevel> level = ParseLogLevel(value);
       if (!level.ok()) {
         return absl::InvalidArgumentError(
             absl::StrCat(flag, ": ", level.status().message()));
       }
       line.log_level = *level;
       return absl::OkStatus();
     }},
    {"help", true,
     [](absl::string_view flag, absl::string_view value, CtlCommandLine& line) {
       return ParseBool(flag, value, line.help);
     }},
    {"h", true,
     [](absl::string_view flag, absl::string_view value, CtlCommandLine& line) {
       return ParseBool(flag, value, line.help);
     }},
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CtlCommandLine> ParseCtlCommandLine(int argc,
                                                   const char* const* argv) {
  CtlCommandLine line;
  // Reported after the whole line is read, since --help wins over it.
  absl::Status first_error;
  bool flags_ended = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    // "-" alone is an operand, as it is to most tools.
    if (flags_ended || arg.size() < 2 || arg[0] != '-') {
      line.operands.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    // The flag as typed, up to any '=': what error messages name.
    const size_t equals = arg.find('=');
    const absl::string_view flag = arg.substr(0, equals);
    absl::string_view name = absl::StripPrefix(flag.substr(1), "-");
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) {
      first_error.Update(
          absl::InvalidArgumentError(absl::StrCat("unknown flag ", flag)));
      continue;
    }
    std::optional<absl::string_view> value;
    if (equals != absl::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (spec->is_bool) {
      value = "true";
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      // `--flag value`; a next argument that is itself a flag is not taken
      // for the value.
      value = argv[++i];
    }
    if (!value.has_value() || (value->empty() && !spec->is_bool)) {
      first_error.Update(absl::InvalidArgumentError(
          absl::StrCat(flag, " needs a value (", flag, "=VALUE)")));
      continue;
    }
    first_error.Update(spec->set(flag, *value, line));
  }
  if (line.help) return line;
  if (!first_error.ok()) return first_error;
  return line;
}

}  // namespace tether
