#include "runtime/process/local_roots.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/process/private_files.h"

namespace tether {
namespace {

constexpr char kRootsDirectory[] = "roots";

// A record: "NAME UUID ADDRESS START TOKEN", START being the writer's
// start time (ProcessStartTime), so that a record outliving its process is
// not taken for a process that got the same pid later.
std::string RecordText(const std::string& name, const std::string& uuid,
                       const std::string& address, uint64_t start,
                       const TreeToken& token) {
  return absl::StrCat(name, " ", uuid, " ", address, " ", start, " ",
                      token.SecretForTransfer(), "\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalRootRecord>> LocalRootRecord::Create(
    const std::string& name, const std::string& uuid,
    const std::string& address, const TreeToken& token) {
  absl::StatusOr<std::string> directory = PrivateDirectory(kRootsDirectory);
  if (!directory.ok()) return directory.status();
  const std::optional<uint64_t> start = ProcessStartTime(getpid());
  if (!start.has_value()) {
    return absl::InternalError("cannot read this process's start time");
  }
  const std::string path = absl::StrCat(*directory, "/", getpid());
  if (absl::Status written = WritePrivateFile(
          path, RecordText(name, uuid, address, *start, token));
      !written.ok()) {
    return written;
  }
  return std::unique_ptr<LocalRootRecord>(new LocalRootRecord(path));
}

LocalRootRecord::~LocalRootRecord() { unlink(path_.c_str()); }

absl::StatusOr<std::vector<LocalRoot>> ListLocalRoots() {
  absl::StatusOr<std::string> directory = PrivateDirectory(kRootsDirectory);
  if (!directory.ok()) return directory.status();
  std::vector<LocalRoot> roots;
  DIR* dir = opendir(directory->c_str());
  if (dir == nullptr) return roots;
  while (dirent* entry = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0) continue;
    const std::string path = absl::StrCat(*directory, "/", entry->d_name);
    absl::StatusOr<std::string> text = ReadPrivateFile(path);
    if (!text.ok()) continue;
    const std::vector<std::string> fields =
        absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
    uint64_t start = 0;
    if (fields.size() != 5 || !absl::SimpleAtoi(fields[3], &start)) continue;
    absl::StatusOr<TreeToken> token = TreeToken::Parse(fields[4]);
    if (!token.ok()) continue;
    if (ProcessStartTime(pid) != start) {
      // Its process is gone (or the pid is another process's now).
      unlink(path.c_str());
      continue;
    }
    LocalRoot root{pid,       fields[0],         fields[1],
                   fields[2], *std::move(token), absl::InfinitePast()};
    struct stat info;
    root.recorded_at = lstat(path.c_str(), &info) == 0
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
