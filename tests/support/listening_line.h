// File: tests/support/listening_line.h
//
// The line every Tether program (actor node, root, child) prints on stdout
// once it serves: `tether: actor NAME listening on ADDR`. Tests that run
// such a program wait for it to learn that the program is up and where.
//
//   absl::StatusOr<std::string> address =
//       ReadListeningAddress(stdout_fd, absl::Now() + absl::Seconds(20));
//
//   std::optional<std::string> address = FindListeningAddress(captured);
//
// Thread-compatible: plain functions over their arguments.

#ifndef TETHER_TESTS_SUPPORT_LISTENING_LINE_H_
#define TETHER_TESTS_SUPPORT_LISTENING_LINE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether {

// The ADDR of `line` (no newline) if it is a listening line.
std::optional<std::string> ParseListeningLine(absl::string_view line);

// The ADDR of the first listening line among the complete (newline-ended)
// lines of `output`, if it has one yet.
std::optional<std::string> FindListeningAddress(absl::string_view output);

// Reads `fd` until a listening line arrives and returns its ADDR;
// DeadlineExceeded at `deadline`, Unavailable when `fd` reaches end of file
// first (the program exited, or closed its stdout, before serving). Lines
// before it are read and dropped.
absl::StatusOr<std::string> ReadListeningAddress(int fd, absl::Time deadline);

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_LISTENING_LINE_H_
