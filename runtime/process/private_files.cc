#include "runtime/process/private_files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace tether {
namespace {

// How many fresh temporary names a write tries before it gives up.
constexpr int kTemporaryNameTries = 8;

std::string ErrnoText() { return strerror(errno); }

absl::Status CreateOrCheck(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", ErrnoText()));
  }
  return CheckPrivateDirectory(path);
}

}  // namespace

absl::Status CheckPrivateDirectory(const std::string& path) {
  struct stat info;
  if (lstat(path.c_str(), &info) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use ", path, ": ", ErrnoText()));
  }
  if (S_ISLNK(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing ", path, ": it is a symbolic link, not a directory"));
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing ", path, ": it is not a directory"));
  }
  if (info.st_uid != geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing ", path, ": it belongs to uid ", info.st_uid,
                     ", not to this user (", geteuid(),
                     "); remove it or set "
                     "XDG_RUNTIME_DIR to a directory of your own"));
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "refusing %s: its mode is %04o; group and others must have no "
        "access (chmod 700)",
        path, info.st_mode & 07777));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> UserStateDirectory() {
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  const std::string base =
      runtime_dir != nullptr && runtime_dir[0] != '\0' ? runtime_dir : "/tmp";
  const std::string path = absl::StrCat(base, "/tether-", geteuid());
  if (absl::Status checked = CreateOrCheck(path); !checked.ok()) {
    return checked;
  }
  return path;
}

absl::StatusOr<std::string> PrivateDirectory(absl::string_view name) {
  absl::StatusOr<std::string> base = UserStateDirectory();
  if (!base.ok()) return base.status();
  const std::string path = absl::StrCat(*base, "/", name);
  if (absl::Status checked = CreateOrCheck(path); !checked.ok()) {
    return checked;
  }
  return path;
}

absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view contents) {
  absl::BitGen random;
  for (int attempt = 0; attempt < kTemporaryNameTries; ++attempt) {
    const std::string temporary =
        absl::StrCat(path, ".tmp.", absl::Hex(absl::Uniform<uint64_t>(random)));
    const int fd =
        open(temporary.c_str(),
             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", temporary, ": ", ErrnoText()));
    }
    size_t written = 0;
    while (written < contents.size()) {
      const ssize_t n =
          write(fd, contents.data() + written, contents.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    const bool closed = close(fd) == 0;
    if (written != contents.size() || !closed) {
      unlink(temporary.c_str());
      return absl::InternalError(absl::StrCat("cannot write ", temporary));
    }
    // Readers never see a half-written file.
    if (rename(temporary.c_str(), path.c_str()) != 0) {
      const std::string why = ErrnoText();
      unlink(temporary.c_str());
      return absl::InternalError(
          absl::StrCat("cannot rename ", temporary, ": ", why));
    }
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot create a temporary file next to ", path,
                   ": every name tried exists"));
}

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", ErrnoText()));
  }
  struct stat info;
  absl::Status usable;
  if (fstat(fd, &info) != 0) {
    usable = absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", ErrnoText()));
  } else if (!S_ISREG(info.st_mode)) {
    usable = absl::FailedPreconditionError(
        absl::StrCat("refusing ", path, ": not a regular file"));
  } else if (info.st_uid != geteuid()) {
    usable = absl::FailedPreconditionError(
        absl::StrCat("refusing ", path, ": it belongs to uid ", info.st_uid));
  } else if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    usable = absl::FailedPreconditionError(absl::StrFormat(
        "refusing %s: its mode is %04o; group and others must have no "
        "access (chmod 600)",
        path, info.st_mode & 07777));
  }
  std::string contents;
  if (usable.ok()) {
    char buffer[4096];
    while (true) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      contents.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (!usable.ok()) return usable;
  return contents;
}

std::optional<uint64_t> ProcessStartTime(pid_t pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream text;
  text << file.rdbuf();
  const std::string stat = text.str();
  // The command name may hold spaces and parentheses: fields count from
  // the last ')'.
  const size_t end = stat.rfind(')');
  if (end == std::string::npos) return std::nullopt;
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(end + 2), ' ');
  // Field 22 of the file, starttime, is the 20th after the name.
  uint64_t start = 0;
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &start)) {
    return std::nullopt;
  }
  return start;
}

}  // namespace tether
