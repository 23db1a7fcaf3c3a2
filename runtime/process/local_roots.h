// File: runtime/process/local_roots.h
//
// The registrars of this machine's running roots, for tools that need "the
// local root" without being told its address (actorctl). Every actor that
// hosts the embedded registrar records itself in the user's private state
// directory (runtime/process/private_files.h) while it serves:
//
//   ${XDG_RUNTIME_DIR:-/tmp}/tether-<uid>/roots/<pid>   (mode 0600)
//       "NAME UUID ADDRESS START TOKEN"
//
// START is the process's start time; TOKEN its tree's token, so that this
// user's tools on this machine can call the tree without being given it.
//
//   auto record = LocalRootRecord::Create(name, uuid, address, token);
//   absl::StatusOr<std::vector<LocalRoot>> roots = ListLocalRoots();
//
// Records of processes that no longer exist are ignored and removed; a
// record is trusted only while its pid still names the process that wrote
// it. Thread-safe.

#ifndef TETHER_RUNTIME_PROCESS_LOCAL_ROOTS_H_
#define TETHER_RUNTIME_PROCESS_LOCAL_ROOTS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/base/tree_token.h"

namespace tether {

struct LocalRoot {
  pid_t pid;
  std::string name;
  std::string uuid;
  std::string address;  // the registrar's gRPC target
  TreeToken token;      // the root's tree's
  absl::Time recorded_at;
};

// This process's record; removed when destroyed.
class LocalRootRecord {
 public:
  static absl::StatusOr<std::unique_ptr<LocalRootRecord>> Create(
      const std::string& name, const std::string& uuid,
      const std::string& address, const TreeToken& token);
  ~LocalRootRecord();

 private:
  explicit LocalRootRecord(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// Live roots, newest first: the records whose process still runs (same
// pid and start time). FailedPrecondition when the user state directory
// cannot be trusted (runtime/process/private_files.h).
absl::StatusOr<std::vector<LocalRoot>> ListLocalRoots();

}  // namespace tether

#endif  // TETHER_RUNTIME_PROCESS_LOCAL_ROOTS_H_
