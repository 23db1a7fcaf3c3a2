// File: tests/trees/nursery_process_log.h
//
// The process log of the nursery tests, which makes leftovers visible:
// every child appends "start <pid> <ppid> <name>" as it boots and
// "exit <pid> <code>" when its main returns; a gated errorer appends
// "failed <pid> released|cancelled" as it returns its error. The root
// creates the log before any child starts and names it in an environment
// variable every descendant inherits; a test reads what was logged since
// it began to learn every descendant's pid and how it ended.
//
//   CreateProcessLog();  // in the root's main(), before any child starts
//   AppendToProcessLog(absl::StrCat("exit ", getpid(), " ", code));
//   const int64_t start = ProcessLogSize();
//   ...
//   std::map<pid_t, ChildRecord> children = ReadProcessLog(start);
//
// Thread-safe and safe across processes: each line is one short write to
// an O_APPEND file, so lines of concurrent children never interleave.

#ifndef TETHER_TESTS_TREES_NURSERY_PROCESS_LOG_H_
#define TETHER_TESTS_TREES_NURSERY_PROCESS_LOG_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace tether::nursery_test {

// The root: creates an empty log in $TEST_TMPDIR (or /tmp) and names it in
// the environment, so every child started later inherits it.
void CreateProcessLog();

// The log's path; empty when no ancestor (or this process) created one.
std::string ProcessLogPath();

// Appends `line`; does nothing without a log.
void AppendToProcessLog(const std::string& line);

// Bytes logged so far: where the lines of a test that begins now start.
int64_t ProcessLogSize();

// One child, as logged.
struct ChildRecord {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string name;
  std::optional<int> exit_code;  // absent: its main never returned
  std::string failed;            // a gated errorer: how it failed
};

// Children logged since byte `from` of the process log, by pid.
std::map<pid_t, ChildRecord> ReadProcessLog(int64_t from);

}  // namespace tether::nursery_test

#endif  // TETHER_TESTS_TREES_NURSERY_PROCESS_LOG_H_
