// File: runtime/process/private_files.h
//
// Files that only this user can read, or plant: the per-user state
// directory, `${XDG_RUNTIME_DIR:-/tmp}/tether-UID`, where local tools find
// the roots running on this machine, and the files written into it.
//
// A directory is used only when it is a real directory (not a symbolic
// link), owned by this user and closed to group and others (created 0700).
// One that is not is refused with an error naming it and saying why; it is
// never repaired, since another user may have planted it. A file is written
// under a fresh name opened O_CREAT | O_EXCL | O_NOFOLLOW with mode 0600,
// then renamed into place: nothing is ever written through a link, and a
// reader never sees half a file. A file is read only when it is a regular
// file of this user's that group and others cannot read.
//
//   TETHER_ASSIGN_OR_RETURN(std::string roots, PrivateDirectory("roots"));
//   TETHER_RETURN_IF_ERROR(
//       WritePrivateFile(absl::StrCat(roots, "/", getpid()), "root ...\n"));
//
// Thread-safety: functions of the file system; concurrent writers of one
// path leave one whole file.

#ifndef TETHER_RUNTIME_PROCESS_PRIVATE_FILES_H_
#define TETHER_RUNTIME_PROCESS_PRIVATE_FILES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether {

// `tether-UID` under $XDG_RUNTIME_DIR (or /tmp), created if missing, and
// checked. FailedPrecondition when it cannot be trusted.
absl::StatusOr<std::string> UserStateDirectory();

// The directory `name` in the user state directory, created if missing,
// and checked like it.
absl::StatusOr<std::string> PrivateDirectory(absl::string_view name);

// OK when `path` is a directory of this user's, not a link, that group and
// others cannot write to or enter; FailedPrecondition saying why not.
absl::Status CheckPrivateDirectory(const std::string& path);

// Writes `contents` to `path` (mode 0600), replacing it whole.
absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view contents);

// The contents of `path` if it is a regular file of this user's that group
// and others cannot read; FailedPrecondition saying why not, NotFound when
// it does not exist.
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path);

// When process `pid` started, in clock ticks since boot (/proc/PID/stat);
// nullopt when it does not exist. A pid and its start time name one
// process: the pid alone may have been reused.
std::optional<uint64_t> ProcessStartTime(pid_t pid);

}  // namespace tether

#endif  // TETHER_RUNTIME_PROCESS_PRIVATE_FILES_H_
