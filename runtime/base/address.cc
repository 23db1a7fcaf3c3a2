#include "tether/address.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tether {
namespace {

constexpr absl::string_view kUnixScheme = "unix:";

absl::Status Malformed(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed address '", text, "': ", why,
                   " (expected host:port, [ipv6]:port or unix:/path)"));
}

bool IsHostname(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (const char c : host) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.') return false;
  }
  return host.front() != '-' && host.front() != '.';
}

bool IsIpv6Literal(const std::string& host) {
  in6_addr unused;
  return ::inet_pton(AF_INET6, host.c_str(), &unused) == 1;
}

absl::StatusOr<int> ParsePort(absl::string_view text,
                              absl::string_view port_text) {
  if (port_text.empty()) return Malformed(text, "missing port");
  for (const char c : port_text) {
    if (!absl::ascii_isdigit(c)) {
      return Malformed(text,
                       absl::StrCat("port '", port_text, "' is not a number"));
    }
  }
  int port = 0;
  if (port_text.size() > 5 || !absl::SimpleAtoi(port_text, &port) ||
      port > 65535) {
    return Malformed(
        text, absl::StrCat("port ", port_text, " is out of range 0..65535"));
  }
  return port;
}

}  // namespace

absl::StatusOr<Address> Address::Parse(absl::string_view text) {
  if (absl::StartsWith(text, kUnixScheme)) {
    absl::string_view path = text.substr(kUnixScheme.size());
    // "unix://PATH" is gRPC's URI spelling of "unix:PATH".
    if (absl::StartsWith(path, "//")) path.remove_prefix(2);
    if (path.empty()) return Malformed(text, "empty socket path");
    if (path.size() > kMaxUnixPathLength) {
      return Malformed(text, absl::StrCat("socket path is longer than ",
                                          kMaxUnixPathLength, " bytes"));
    }
    return Address(Kind::kUnix, "", 0, std::string(path));
  }

  std::string host;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return Malformed(text, "unterminated '[' in IPv6 host");
    }
    host = std::string(text.substr(1, close - 1));
    if (!IsIpv6Literal(host)) {
      return Malformed(text,
                       absl::StrCat("'", host, "' is not an IPv6 address"));
    }
    absl::string_view rest = text.substr(close + 1);
    if (!absl::StartsWith(rest, ":")) return Malformed(text, "missing port");
    port_text = rest.substr(1);
  } else {
    const size_t colon = text.find(':');
    if (colon == absl::string_view::npos) {
      return Malformed(text, "missing ':port'");
    }
    if (text.find(':', colon + 1) != absl::string_view::npos) {
      return Malformed(text, "an IPv6 host must be written in brackets");
    }
    host = std::string(text.substr(0, colon));
    if (!IsHostname(host)) {
      return Malformed(
          text, host.empty()
                    ? std::string("missing host")
                    : absl::StrCat("'", host, "' is not a valid host name"));
    }
    port_text = text.substr(colon + 1);
  }
  absl::StatusOr<int> port = ParsePort(text, port_text);
  if (!port.ok()) return port.status();
  return Address(Kind::kTcp, std::move(host), *port, "");
}

Address Address::WithPort(int port) const {
  return Address(kind_, host_, port, path_);
}

std::string Address::ToString() const {
  if (kind_ == Kind::kUnix) return absl::StrCat(kUnixScheme, path_);
  if (absl::StrContains(host_, ':')) {
    return absl::StrCat("[", host_, "]:", port_);
  }
  return absl::StrCat(host_, ":", port_);
}

}  // namespace tether
