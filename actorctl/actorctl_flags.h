// File: actorctl/actorctl_flags.h
//
// actorctl's command line: its flags, then the command and its operands.
// actorctl parses it itself rather than with absl/flags, whose parser exits
// 1 on its own for an unknown or malformed flag; actorctl's contract
// reserves 1 for remote errors, and every mistake on the command line is a
// usage error (exit 2) reported in one line.
//
//   absl::StatusOr<CtlCommandLine> line = ParseCtlCommandLine(argc, argv);
//   if (!line.ok()) return UsageError(line.status().message());
//   if (line->help) ...  // print kCtlHelp
//
// A flag is `--name=value` or `--name value` (one leading dash works too);
// `--json` alone means true, `--json=false` turns it off. Flags and
// operands may come in any order, a repeated flag keeps its last value, and
// `--` ends the flags: everything after it is an operand.

#ifndef TETHER_ACTORCTL_ACTORCTL_FLAGS_H_
#define TETHER_ACTORCTL_ACTORCTL_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/base/log.h"

namespace tether {

struct CtlCommandLine {
  // --registry: empty means the default ($TETHER_REGISTRY, else the newest
  // local root).
  std::string registry;
  // --token_file: empty means the default ($TETHER_TOKEN_FILE, else the
  // token of the local root serving the registry).
  std::string token_file;
  bool json = false;
  // --args: JSON text, checked by the command that uses it; empty means
  // null.
  std::string args;
  absl::Duration timeout = absl::Seconds(5);
  LogLevel log_level = LogLevel::kWarning;
  // --help or -h: print kCtlHelp and exit 0, whatever else was given.
  bool help = false;
  // The command, then its operands.
  std::vector<std::string> operands;
};

// Parses argv[1..argc). An unknown flag, a flag without its value or with
// a malformed one is InvalidArgument, with a one-line message that names
// the (first such) flag, unless --help was given too.
[[nodiscard]] absl::StatusOr<CtlCommandLine> ParseCtlCommandLine(
    int argc, const char* const* argv);

// What --help prints: the commands and every flag.
extern const char kCtlHelp[];

// The hint printed under a usage error.
extern const char kCtlUsageHint[];

}  // namespace tether

#endif  // TETHER_ACTORCTL_ACTORCTL_FLAGS_H_
