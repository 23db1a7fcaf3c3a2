#include "tests/support/local_etcd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/registry/etcd_registry.h"
#include "testing/poll_until.h"

namespace tether {
namespace {

// Tries with fresh ports when another process took one first.
constexpr int kStartAttempts = 3;
// Pause between two connection attempts while etcd starts; the deadline
// bounds the wait.
constexpr absl::Duration kProbePause = absl::Milliseconds(20);
constexpr char kMember[] = "tether-test";
constexpr absl::string_view kWatcherGauge = "etcd_debugging_mvcc_watcher_total";

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const absl::Status error =
        absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
    close(fd);
    return error;
  }
  close(fd);
  return ntohs(address.sin_port);
}

// A connected TCP socket to 127.0.0.1:`port`, or -1.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string TempRoot() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// The end of etcd's log, for errors.
std::string LogTail(const std::string& path) {
  std::ifstream log(path, std::ios::binary);
  std::stringstream text;
  text << log.rdbuf();
  const std::string all = text.str();
  constexpr size_t kTail = 1500;
  return all.size() <= kTail ? all : all.substr(all.size() - kTail);
}

// Starts etcd with its output in `log`; only async-signal-safe calls
// between fork and exec.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args,
                            const std::string& log) {
  std::vector<char*> argv;
  for (const std::string& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0)
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Waits until etcd at `client` answers a read, or it exits (`exited` set,
// the error quotes its log), or the deadline passes.
absl::Status AwaitServing(pid_t pid, const Address& client,
                          const std::string& log, absl::Time deadline,
                          bool* exited) {
  int status = 0;
  const bool listening = PollUntil(
      deadline,
      [&] {
        if (waitpid(pid, &status, WNOHANG) == pid) {
          *exited = true;
          return true;
        }
        const int fd = ConnectLoopback(client.port());
        if (fd < 0) return false;
        close(fd);
        return true;
      },
      kProbePause);
  if (*exited) {
    const bool not_found = WIFEXITED(status) && WEXITSTATUS(status) == 127;
    return absl::UnavailableError(absl::StrCat(
        not_found ? "cannot run etcd (install etcd-server: tools/setup.sh)"
                  : "etcd exited while starting",
        "; its log ends: ", LogTail(log)));
  }
  if (!listening) {
    return absl::DeadlineExceededError(
        absl::StrCat("etcd did not listen on ", client.ToString(),
                     " in time; its log ends: ", LogTail(log)));
  }
  // Listening comes before serving: a read answers once etcd has elected
  // itself leader.
  const absl::StatusOr<std::vector<v1::RegistryEntry>> listed =
      NewEtcdRegistry(client)->List(deadline);
  if (!listed.ok()) {
    return absl::Status(listed.status().code(),
                        absl::StrCat(listed.status().message(),
                                     "; etcd's log ends: ", LogTail(log)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalEtcd>> LocalEtcd::Start(
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string dir = absl::StrCat(TempRoot(), "/etcd.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  const std::string log = dir + "/etcd.log";
  absl::Status last;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> client_port = FreeLoopbackPort();
    absl::StatusOr<int> peer_port = FreeLoopbackPort();
    if (!client_port.ok()) return client_port.status();
    if (!peer_port.ok()) return peer_port.status();
    const std::string client_url =
        absl::StrCat("http://127.0.0.1:", *client_port);
    const std::string peer_url = absl::StrCat("http://127.0.0.1:", *peer_port);
    const std::string data = absl::StrCat(dir, "/data", attempt);
    absl::StatusOr<pid_t> pid =
        Spawn({"etcd", absl::StrCat("--name=", kMember),
               absl::StrCat("--data-dir=", data),
               absl::StrCat("--listen-client-urls=", client_url),
               absl::StrCat("--advertise-client-urls=", client_url),
               absl::StrCat("--listen-peer-urls=", peer_url),
               absl::StrCat("--initial-advertise-peer-urls=", peer_url),
               absl::StrCat("--initial-cluster=", kMember, "=", peer_url),
               "--logger=zap", "--log-outputs=stderr", "--log-level=warn"},
              log);
    if (!pid.ok()) return pid.status();
    const Address client =
        *Address::Parse(absl::StrCat("127.0.0.1:", *client_port));
    bool exited = false;
    last = AwaitServing(*pid, client, log, deadline, &exited);
    if (last.ok()) {
      return std::unique_ptr<LocalEtcd>(new LocalEtcd(*pid, dir, client));
    }
    if (!exited) KillAndReap(*pid);
    if (!absl::StrContains(last.message(), "address already in use")) break;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return last;
}

LocalEtcd::~LocalEtcd() {
  KillAndReap(pid_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string LocalEtcd::registry_address() const {
  return absl::StrCat(kEtcdScheme, client_.ToString());
}

absl::StatusOr<int64_t> LocalEtcd::Watchers() const {
  const int fd = ConnectLoopback(client_.port());
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to etcd at ", client_.ToString()));
  }
  const timeval limit = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
  std::string page;
  if (write(fd, request.data(), request.size()) ==
      static_cast<ssize_t>(request.size())) {
    char chunk[4096];
    ssize_t n = 0;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) page.append(chunk, n);
  }
  close(fd);
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::ConsumePrefix(&line, kWatcherGauge) ||
        !absl::ConsumePrefix(&line, " ")) {
      continue;
    }
    double value = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(line), &value)) {
      return static_cast<int64_t>(value);
    }
  }
  return absl::InternalError(
      absl::StrCat("etcd's /metrics has no ", kWatcherGauge));
}

absl::StatusOr<Address> UnusedLoopbackAddress() {
  absl::StatusOr<int> port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  return Address::Parse(absl::StrCat("127.0.0.1:", *port));
}

}  // namespace tether
