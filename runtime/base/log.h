// File: runtime/base/log.h
//
// Minimal leveled logging to stderr. Every line names the actor that wrote it
// (name and the first 8 characters of its uuid) so the interleaved output of
// a process tree stays readable, and lines written by a context's serving
// task also name that context (function and the first 8 characters of its
// id):
//
//   I 03:41:07.123456 worker[3f2a9c1e] server stopped (SIGTERM)
//   W 03:41:07.200000 worker[3f2a9c1e] counter#9b1c22e0 slow consumer
//
// Usage:
//   tether::SetLogActor("worker", uuid);
//   tether::SetLogLevel(tether::LogLevel::kDebug);
//   TETHER_LOG(kInfo) << "listening on " << address;
//
// Thread-safe: each statement writes its line with one write(2).

#ifndef TETHER_RUNTIME_BASE_LOG_H_
#define TETHER_RUNTIME_BASE_LOG_H_

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// A line's message beyond this many bytes is cut, saying how much was:
// messages quote what peers send (names, errors), and a peer must not be
// able to fill the log.
inline constexpr size_t kMaxLogMessageBytes = 4096;

// Parses "debug", "info", "warning" or "error".
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

// Lines below `level` are discarded. Default: kInfo.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Names the actor in every later line. Default: the program's name only.
void SetLogActor(absl::string_view name, absl::string_view uuid);

// Names a context in every line the calling thread writes while this
// object lives (serving tasks set it for their context).
class ScopedLogContext {
 public:
  ScopedLogContext(absl::string_view function, absl::string_view context_id);
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;
  ~ScopedLogContext();

 private:
  std::string previous_;
};

namespace log_internal {

// Collects one line and writes it when destroyed.
// The stream lives on the heap: a std::ostringstream is ~400 bytes, and
// every function with a log line would reserve them in its stack frame,
// taken or not. Tasks block deep in such functions, and the stack pages
// they have touched stay resident for as long as they block.
class LogLine {
 public:
  explicit LogLine(LogLevel level)
      : level_(level), stream_(std::make_unique<std::ostringstream>()) {}
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();

  std::ostream& stream() { return *stream_; }

 private:
  const LogLevel level_;
  const std::unique_ptr<std::ostringstream> stream_;
};

}  // namespace log_internal
}  // namespace tether

// Streams one log line at `level` (kDebug, kInfo, kWarning, kError). The
// operands are not evaluated when the level is disabled.
#define TETHER_LOG(level)                                 \
  if (!::tether::LogEnabled(::tether::LogLevel::level)) { \
  } else                                                  \
    ::tether::log_internal::LogLine(::tether::LogLevel::level).stream()

#endif  // TETHER_RUNTIME_BASE_LOG_H_
