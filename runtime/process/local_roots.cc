#include "runtime/process/local_roots.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tether {
namespace {

std::string RootsDirectory() {
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  const std::string base =
      runtime_dir != nullptr && runtime_dir[0] != '\0' ? runtime_dir : "/tmp";
  return absl::StrCat(base, "/tether-", getuid(), "/roots");
}

absl::Status MakeDirectories(const std::string& path) {
  size_t slash = 0;
  while ((slash = path.find('/', slash + 1)) != std::string::npos) {
    mkdir(path.substr(0, slash).c_str(), 0700);
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

absl::StatusOr<std::unique_ptr<LocalRootRecord>> LocalRootRecord::Create(
    const std::string& name, const std::string& uuid,
    const std::string& address) {
  const std::string directory = RootsDirectory();
  if (absl::Status made = MakeDirectories(directory); !made.ok()) return made;
  const std::string path = absl::StrCat(directory, "/", getpid());
  const std::string temporary = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << name << " " << uuid << " " << address << "\n";
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", temporary));
    }
  }
  // Readers never see a half-written record.
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temporary, ": ", strerror(errno)));
  }
  return std::unique_ptr<LocalRootRecord>(new LocalRootRecord(path));
}

LocalRootRecord::~LocalRootRecord() { unlink(path_.c_str()); }

std::vector<LocalRoot> ListLocalRoots() {
  const std::string directory = RootsDirectory();
  std::vector<LocalRoot> roots;
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) return roots;
  while (dirent* entry = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0) continue;
    const std::string path = absl::StrCat(directory, "/", entry->d_name);
    if (!Alive(pid)) {
      unlink(path.c_str());
      continue;
    }
    std::ifstream in(path);
    LocalRoot root;
    root.pid = pid;
    if (!(in >> root.name >> root.uuid >> root.address)) continue;
    struct stat info;
    root.recorded_at = stat(path.c_str(), &info) == 0
                           ? absl::TimeFromTimespec(info.st_mtim)
                           : absl::InfinitePast();
    roots.push_back(std::move(root));
  }
  closedir(dir);
  // Ties (a coarse file system clock) go to the higher pid.
  std::sort(
      roots.begin(), roots.end(), [](const LocalRoot& a, const LocalRoot& b) {
        return std::tie(a.recorded_at, a.pid) > std::tie(b.recorded_at, b.pid);
      });
  return roots;
}

}  // namespace tether
