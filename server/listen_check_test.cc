#include "server/listen_check.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "absl/cleanup/cleanup.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

Address Parse(const std::string& text) {
  absl::StatusOr<Address> address = Address::Parse(text);
  EXPECT_TRUE(address.ok()) << address.status();
  return *address;
}

// A listening loopback TCP socket on a kernel-chosen port.
class TcpListener {
 public:
  TcpListener() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in sin = {};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    socklen_t len = sizeof(sin);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
  }
  ~TcpListener() { close(fd_); }
  int port() const { return port_; }

 private:
  const int fd_;
  int port_ = 0;
};

std::string TempDir() {
  char pattern[] = "/tmp/listen_check_test.XXXXXX";
  const char* dir = mkdtemp(pattern);
  EXPECT_NE(dir, nullptr);
  return dir;
}

TEST(ListenCheckTest, FreeTcpPortPasses) {
  EXPECT_TRUE(CheckCanListen(Parse("127.0.0.1:0")).ok());
}

TEST(ListenCheckTest, PortInUseIsNamed) {
  TcpListener listener;
  const absl::Status status =
      CheckCanListen(Parse("127.0.0.1:" + std::to_string(listener.port())));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("address already in use"),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find(std::to_string(listener.port())),
            absl::string_view::npos)
      << status;
}

TEST(ListenCheckTest, UnresolvableHostIsNamed) {
  const absl::Status status = CheckCanListen(Parse("no-such-host.invalid:0"));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot resolve host"),
            absl::string_view::npos)
      << status;
}

TEST(ListenCheckTest, UnixPathInMissingDirectoryIsNamed) {
  const absl::Status status =
      CheckCanListen(Parse("unix:/nonexistent-dir-for-tether/a.sock"));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("does not exist"), absl::string_view::npos)
      << status;
}

TEST(ListenCheckTest, LiveUnixServerIsNotDisplacedButStaleSocketIs) {
  const std::string dir = TempDir();
  const std::string path = dir + "/live.sock";
  absl::Cleanup remove = [&] {
    unlink(path.c_str());
    rmdir(dir.c_str());
  };
  EXPECT_TRUE(CheckCanListen(Parse("unix:" + path)).ok());

  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  path.copy(sun.sun_path, path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  const absl::Status live = CheckCanListen(Parse("unix:" + path));
  ASSERT_FALSE(live.ok());
  EXPECT_NE(live.message().find("already in use"), absl::string_view::npos)
      << live;

  close(fd);  // The socket file stays behind, now with nobody accepting.
  EXPECT_TRUE(CheckCanListen(Parse("unix:" + path)).ok());
}

TEST(ListenCheckTest, RegularFileAtUnixPathIsRefused) {
  const std::string dir = TempDir();
  const std::string path = dir + "/file";
  absl::Cleanup remove = [&] {
    unlink(path.c_str());
    rmdir(dir.c_str());
  };
  close(creat(path.c_str(), 0600));
  const absl::Status status = CheckCanListen(Parse("unix:" + path));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("not a socket"), absl::string_view::npos)
      << status;
}

}  // namespace
}  // namespace tether
