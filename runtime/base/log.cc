#include "runtime/base/log.h"

#include <errno.h>
#include <unistd.h>

#include <atomic>

#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tether {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

absl::Mutex g_actor_mu(absl::kConstInit);
// Heap-allocated once and never freed, so logging works during static
// destruction.
std::string* g_actor ABSL_GUARDED_BY(g_actor_mu) = nullptr;

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 'D';
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
  }
  return '?';
}

std::string ActorTag() {
  absl::MutexLock lock(&g_actor_mu);
  return g_actor == nullptr ? std::string("tether") : *g_actor;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log level '", text, "' (want debug, info, warning or error)"));
}

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void SetLogActor(absl::string_view name, absl::string_view uuid) {
  std::string tag = absl::StrCat(name, "[", uuid.substr(0, 8), "]");
  absl::MutexLock lock(&g_actor_mu);
  if (g_actor == nullptr) {
    g_actor = new std::string(std::move(tag));
  } else {
    *g_actor = std::move(tag);
  }
}

namespace {

// The context the calling thread works for, as " function#id8"; empty
// outside serving tasks.
thread_local std::string tls_context_tag;

}  // namespace

ScopedLogContext::ScopedLogContext(absl::string_view function,
                                   absl::string_view context_id)
    : previous_(std::move(tls_context_tag)) {
  tls_context_tag = absl::StrCat(" ", function, "#", context_id.substr(0, 8));
}

ScopedLogContext::~ScopedLogContext() {
  tls_context_tag = std::move(previous_);
}

namespace log_internal {

LogLine::~LogLine() {
  std::string message = stream_->str();
  if (message.size() > kMaxLogMessageBytes) {
    // Peers choose names and messages: one of theirs must not fill the log.
    size_t keep = kMaxLogMessageBytes;
    while (keep > 0 && (message[keep] & 0xC0) == 0x80) --keep;  // UTF-8
    const size_t cut = message.size() - keep;
    message.resize(keep);
    absl::StrAppend(&message, "... (", cut, " more bytes)");
  }
  const std::string line = absl::StrCat(
      std::string(1, LevelLetter(level_)), " ",
      absl::FormatTime("%H:%M:%E6S", absl::Now(), absl::LocalTimeZone()), " ",
      ActorTag(), tls_context_tag, " ", message, "\n");
  // One write(2) per line keeps lines whole when threads and processes share
  // stderr.
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone; nowhere left to report that.
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
}

}  // namespace log_internal
}  // namespace tether
