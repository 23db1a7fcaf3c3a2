#include "tests/trees/nursery_process_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tether::nursery_test {
namespace {

// Names the log; set by the root before any child starts, so every
// descendant inherits it.
constexpr char kProcessLogEnv[] = "TETHER_NURSERY_TEST_PROCESS_LOG";

}  // namespace

void CreateProcessLog() {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/nursery_test_processes.",
                   getpid(), ".log");
  std::ofstream truncate(path, std::ios::trunc);
  setenv(kProcessLogEnv, path.c_str(), 1);
}

std::string ProcessLogPath() {
  const char* path = std::getenv(kProcessLogEnv);
  return path != nullptr ? path : "";
}

void AppendToProcessLog(const std::string& line) {
  const char* path = std::getenv(kProcessLogEnv);
  if (path == nullptr) return;
  const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  // One short write to an O_APPEND file: lines of concurrent children never
  // interleave.
  const std::string text = line + "\n";
  if (write(fd, text.data(), text.size()) < 0) {
    std::fprintf(stderr, "nursery_test: cannot append to %s: %s\n", path,
                 strerror(errno));
  }
  close(fd);
}

int64_t ProcessLogSize() {
  std::ifstream log(ProcessLogPath(), std::ios::ate | std::ios::binary);
  return log ? static_cast<int64_t>(log.tellg()) : 0;
}

std::map<pid_t, ChildRecord> ReadProcessLog(int64_t from) {
  std::map<pid_t, ChildRecord> children;
  std::ifstream log(ProcessLogPath(), std::ios::binary);
  log.seekg(from);
  std::string line;
  while (std::getline(log, line)) {
    const std::vector<std::string> words = absl::StrSplit(line, ' ');
    int pid = 0;
    if (words.size() < 3 || !absl::SimpleAtoi(words[1], &pid)) continue;
    ChildRecord& record = children[pid];
    record.pid = pid;
    int number = 0;
    if (words[0] == "start" && words.size() == 4 &&
        absl::SimpleAtoi(words[2], &number)) {
      record.ppid = number;
      record.name = words[3];
    } else if (words[0] == "exit" && absl::SimpleAtoi(words[2], &number)) {
      record.exit_code = number;
    } else if (words[0] == "failed") {
      record.failed = words[2];
    }
  }
  return children;
}

}  // namespace tether::nursery_test
