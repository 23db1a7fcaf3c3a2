// File: runtime/process/local_roots.h
//
// The registrars of this machine's running roots, for tools that need "the
// local root" without being told its address (actorctl). Every actor that
// hosts the embedded registrar records itself in a per-user directory
// while it serves:
//
//   ${XDG_RUNTIME_DIR:-/tmp}/tether-<uid>/roots/<pid>   "NAME UUID ADDRESS"
//
//   LocalRootRecord record = *LocalRootRecord::Create(name, uuid, address);
//   std::vector<LocalRoot> roots = ListLocalRoots();   // newest first
//
// Records of processes that no longer exist are ignored and removed.

#ifndef TETHER_RUNTIME_PROCESS_LOCAL_ROOTS_H_
#define TETHER_RUNTIME_PROCESS_LOCAL_ROOTS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tether {

struct LocalRoot {
  pid_t pid;
  std::string name;
  std::string uuid;
  std::string address;  // the registrar's gRPC target
  absl::Time recorded_at;
};

// This process's record; removed when destroyed.
class LocalRootRecord {
 public:
  static absl::StatusOr<std::unique_ptr<LocalRootRecord>> Create(
      const std::string& name, const std::string& uuid,
      const std::string& address);
  ~LocalRootRecord();

 private:
  explicit LocalRootRecord(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// Live roots, newest first.
std::vector<LocalRoot> ListLocalRoots();

}  // namespace tether

#endif  // TETHER_RUNTIME_PROCESS_LOCAL_ROOTS_H_
