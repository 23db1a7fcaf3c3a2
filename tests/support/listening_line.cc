#include "tests/support/listening_line.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace tether {
namespace {

constexpr absl::string_view kActorPrefix = "tether: actor ";
constexpr absl::string_view kListeningMarker = " listening on ";

}  // namespace

std::optional<std::string> ParseListeningLine(absl::string_view line) {
  if (!absl::StartsWith(line, kActorPrefix)) return std::nullopt;
  const size_t marker = line.find(kListeningMarker);
  if (marker == absl::string_view::npos) return std::nullopt;
  return std::string(line.substr(marker + kListeningMarker.size()));
}

std::optional<std::string> FindListeningAddress(absl::string_view output) {
  // What follows the last newline is a line still being written.
  const size_t end = output.rfind('\n');
  if (end == absl::string_view::npos) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(output.substr(0, end), '\n')) {
    if (std::optional<std::string> address = ParseListeningLine(line)) {
      return address;
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> ReadListeningAddress(int fd, absl::Time deadline) {
  std::string buffer;
  while (true) {
    const size_t newline = buffer.find('\n');
    if (newline != std::string::npos) {
      std::optional<std::string> address =
          ParseListeningLine(absl::string_view(buffer).substr(0, newline));
      if (address.has_value()) return *std::move(address);
      buffer.erase(0, newline + 1);
      continue;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("no listening line before deadline");
    }
    pollfd pfd = {fd, POLLIN, 0};
    const int ready =
        poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (ready <= 0) continue;
    char chunk[512];
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n == 0) {
      return absl::UnavailableError("the actor exited before listening");
    }
    if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace tether
