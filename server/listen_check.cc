#include "server/listen_check.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace tether {
namespace {

absl::Status CannotListen(const Address& address, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot listen on ", address.ToString(), ": ", why));
}

absl::Status CheckTcp(const Address& address) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const std::string port = std::to_string(address.port());
  const int rc =
      getaddrinfo(address.host().c_str(), port.c_str(), &hints, &results);
  if (rc != 0) {
    return CannotListen(address,
                        absl::StrCat("cannot resolve host '", address.host(),
                                     "': ", gai_strerror(rc)));
  }
  absl::Cleanup free_results = [results] { freeaddrinfo(results); };
  for (const addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;  // e.g. IPv6 disabled: gRPC skips it too.
    absl::Cleanup close_fd = [fd] { close(fd); };
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      return CannotListen(address, errno == EADDRINUSE
                                       ? std::string("address already in use")
                                       : std::string(strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUnix(const Address& address) {
  const std::string& path = address.path();
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    struct stat dir_stat;
    if (stat(dir.c_str(), &dir_stat) != 0 || !S_ISDIR(dir_stat.st_mode)) {
      return CannotListen(address,
                          absl::StrCat("directory '", dir, "' does not exist"));
    }
  }
  struct stat path_stat;
  if (lstat(path.c_str(), &path_stat) != 0) return absl::OkStatus();
  if (!S_ISSOCK(path_stat.st_mode)) {
    return CannotListen(address, "path exists and is not a socket");
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return CannotListen(address, strerror(errno));
  absl::Cleanup close_fd = [fd] { close(fd); };
  sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path.data(), path.size());  // Length checked by Parse.
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun)) == 0) {
    return CannotListen(address, "address already in use by a live server");
  }
  // A socket file nobody accepts on is left over from a dead process; gRPC
  // replaces it.
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckCanListen(const Address& address) {
  return address.is_tcp() ? CheckTcp(address) : CheckUnix(address);
}

}  // namespace tether
