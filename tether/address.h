// File: tether/address.h
//
// Where an actor listens or can be dialed: a TCP endpoint ("host:port",
// "[v6]:port") or a Unix domain socket ("unix:/path"). The text form is gRPC's
// target syntax, so ToString() can be handed to grpc::CreateChannel or to a
// ServerBuilder as it is.
//
// clang-format off
// Example:
//
//   // "127.0.0.1:0" listens on a free port; the server reports the real one.
//   absl::StatusOr<Address> Bound(absl::string_view listen, int port) {
//     TETHER_ASSIGN_OR_RETURN(Address address, Address::Parse(listen));
//     if (!address.is_tcp()) return address;
//     return address.WithPort(port);  // "127.0.0.1:41234"
//   }
// clang-format on
//
// Thread-safety: a value type; thread-compatible.

#ifndef TETHER_ADDRESS_H_
#define TETHER_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether {

class Address {
 public:
  enum class Kind { kTcp, kUnix };

  // Longest Unix socket path the kernel accepts (sun_path less its NUL).
  static constexpr size_t kMaxUnixPathLength = 107;

  // Accepts "host:port" (hostname or IPv4 literal), "[ipv6]:port" with a port
  // of 0..65535 (0: pick a free port when listening), and "unix:PATH" or
  // "unix://PATH" with a non-empty PATH. Anything else is InvalidArgument
  // with a message that quotes the text and says what is wrong.
  static absl::StatusOr<Address> Parse(absl::string_view text);

  Kind kind() const { return kind_; }
  bool is_tcp() const { return kind_ == Kind::kTcp; }
  // TCP only: the host without brackets, and the port.
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // Unix only: the socket path.
  const std::string& path() const { return path_; }

  // TCP only: the same host with another port.
  Address WithPort(int port) const;

  // gRPC target syntax; Parse(ToString()) gives an equal address.
  std::string ToString() const;

  friend bool operator==(const Address& a, const Address& b) {
    return a.kind_ == b.kind_ && a.host_ == b.host_ && a.port_ == b.port_ &&
           a.path_ == b.path_;
  }

 private:
  Address(Kind kind, std::string host, int port, std::string path)
      : kind_(kind),
        host_(std::move(host)),
        port_(port),
        path_(std::move(path)) {}

  Kind kind_;
  std::string host_;
  int port_ = 0;
  std::string path_;
};

}  // namespace tether

#endif  // TETHER_ADDRESS_H_
