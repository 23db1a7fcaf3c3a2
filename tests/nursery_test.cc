// Actor nurseries across real processes, after tractor's
// tests/test_cancellation.py and tests/test_spawning.py: boxed remote
// errors, error groups, one-cancels-all, nested trees, graceful teardown,
// boot failures and unexpected deaths.
//
// This test binary is the root actor (a runtime and a server per test, so
// children can reach it) and every child is this same binary re-executed in
// child mode: main() calls RunAsChildIfSpawned first, and the functions the
// children run are registered below.
//
// Bookkeeping that makes leftovers visible:
//   - every child appends "start <pid> <ppid> <name>" and, when its main
//     returns, "exit <pid> <code>" to a process log (kProcessLogEnv), so a
//     test knows every descendant's pid and whether it ended cleanly; a
//     gated errorer also logs "failed <pid> released|cancelled" as it
//     returns its error, so a test knows which errors a group must hold;
//   - the root is a child subreaper, so a descendant that outlives its
//     parent becomes the root's child instead of init's.
// After every test, TearDown waits (with a deadline) until this process has
// no child left and every logged pid is gone, and kills whatever is left so
// that a failing test never leaves processes behind.

#include "client/nursery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "client/portal.h"
#include "gtest/gtest.h"
#include "runtime/actor_identity.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/function_registry.h"
#include "runtime/msg_stream.h"
#include "runtime/spawner.h"
#include "runtime/status_macros.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "server/actor_server.h"
#include "server/child_main.h"
#include "tether/v1/actor.pb.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether {
namespace {

// --- Process log and the children's side of main() ---

// Path of the process log; set by the root before any child starts, so
// every descendant inherits it.
constexpr char kProcessLogEnv[] = "TETHER_NURSERY_TEST_PROCESS_LOG";
// Spawner names a child's argv[0] "tether-child:<name>".
constexpr absl::string_view kChildArgPrefix = "tether-child:";
// A child of this name aborts before it serves (a crash during boot).
constexpr char kBootCrasher[] = "boot-crasher";
constexpr char kBootCrashLine[] = "aborts during boot on purpose";
// A child of this name holds its boot until the test creates HoldFile().
constexpr char kHeldBooter[] = "late-daemon";
constexpr absl::Duration kHoldLimit = absl::Seconds(30);

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

std::string LogPath() {
  const char* path = std::getenv(kProcessLogEnv);
  return path != nullptr ? path : "";
}

std::string HoldFile() { return LogPath() + ".go"; }

// In a spawned child, before it boots: logs its start, crashes the child
// named kBootCrasher and holds the one named kHeldBooter.
void BeforeChildBoot(const char* argv0) {
  if (std::getenv(kChildSpecEnv) == nullptr) return;
  const std::string name(absl::StripPrefix(argv0, kChildArgPrefix));
  AppendToProcessLog(
      absl::StrCat("start ", getpid(), " ", getppid(), " ", name));
  if (name == kBootCrasher) {
    std::fprintf(stderr, "nursery_test: %s %s\n", name.c_str(), kBootCrashLine);
    const rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::abort();
  }
  if (name == kHeldBooter) {
    // Polls: the test creates the file once the nursery is failing.
    const absl::Time deadline = absl::Now() + kHoldLimit;
    while (access(HoldFile().c_str(), F_OK) != 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
}

void AfterChildExit(int code) {
  AppendToProcessLog(absl::StrCat("exit ", getpid(), " ", code));
}

// The root: adopts orphaned descendants and names the process log.
void BecomeRoot() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::fprintf(stderr, "nursery_test: PR_SET_CHILD_SUBREAPER: %s\n",
                 strerror(errno));
  }
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/nursery_test_processes.",
                   getpid(), ".log");
  std::ofstream truncate(path, std::ios::trunc);
  setenv(kProcessLogEnv, path.c_str(), 1);
}

struct ChildRecord {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string name;
  std::optional<int> exit_code;  // absent: its main never returned
  std::string failed;            // a gated errorer: how it failed
};

int64_t LogSize() {
  std::ifstream log(LogPath(), std::ios::ate | std::ios::binary);
  return log ? static_cast<int64_t>(log.tellg()) : 0;
}

// Children logged since byte `from` of the process log, by pid.
std::map<pid_t, ChildRecord> ReadProcessLog(int64_t from) {
  std::map<pid_t, ChildRecord> children;
  std::ifstream log(LogPath(), std::ios::binary);
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

// --- Processes ---

struct ProcessEntry {
  pid_t pid = 0;
  char state = '?';
};

// Every process whose parent is this one, zombies included.
std::vector<ProcessEntry> ChildrenOfThisProcess() {
  std::vector<ProcessEntry> children;
  const std::string self = absl::StrCat(getpid());
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
    std::string line;
    char state = '?';
    bool ours = false;
    while (std::getline(status, line)) {
      if (absl::StartsWith(line, "State:")) {
        const absl::string_view value = absl::StripLeadingAsciiWhitespace(
            absl::string_view(line).substr(6));
        if (!value.empty()) state = value[0];
      } else if (absl::StartsWith(line, "PPid:")) {
        ours = absl::StripAsciiWhitespace(absl::string_view(line).substr(5)) ==
               self;
      }
    }
    if (ours) children.push_back({pid, state});
  }
  closedir(proc);
  return children;
}

bool Gone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

std::string DescribeProcesses(const std::vector<ProcessEntry>& processes) {
  return absl::StrJoin(
      processes, ", ", [](std::string* out, const ProcessEntry& p) {
        absl::StrAppend(out, p.pid, " (state ", std::string(1, p.state), ")");
      });
}

// --- The gate: lets a set of children fail together ---

// Holds errorers (each in its own child) until the test has seen every one
// of them arrive, then lets them go at once, so that each of them fails
// while all its siblings run. Lives in the root; children reach it through
// the root's server as the plain function await_gate. Thread-safe.
class Gate {
 public:
  void Reset() {
    absl::MutexLock lock(&mu_);
    arrived_ = 0;
    released_ = false;
    pids_.clear();
  }

  // A child arrived; blocks until Release() or cancellation.
  absl::Status Arrive(pid_t pid) {
    absl::MutexLock lock(&mu_);
    ++arrived_;
    pids_.push_back(pid);
    waiters_.NotifyAll();
    return AwaitLocked(
        mu_, waiters_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return released_; },
        absl::InfiniteFuture());
  }

  absl::Status AwaitArrivals(int count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const absl::Status waited = AwaitLocked(
        mu_, waiters_,
        [this, count]()
            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return arrived_ >= count; },
        absl::Now() + timeout);
    if (!waited.ok()) {
      return absl::Status(
          waited.code(),
          absl::StrCat(arrived_, " of ", count,
                       " children reached the gate: ", waited.message()));
    }
    return absl::OkStatus();
  }

  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
    waiters_.NotifyAll();
  }

  std::vector<pid_t> pids() const {
    absl::MutexLock lock(&mu_);
    return pids_;
  }

 private:
  mutable absl::Mutex mu_;
  WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<pid_t> pids_ ABSL_GUARDED_BY(mu_);
};

Gate& TheGate() {
  static Gate* const gate = new Gate();
  return *gate;
}

// --- Functions the actors run ---

// Spawning many processes on a 2-core machine (under ASan, several test
// runs at once) is slow; boot time is not what these tests measure.
ActorOptions Patient() {
  ActorOptions options;
  options.spawn_timeout = absl::Seconds(60);
  return options;
}

ContextOptions Backpressure() {
  ContextOptions options;
  options.backpressure = true;
  return options;
}

absl::StatusOr<std::string> StringArg(const Value& args,
                                      absl::string_view name) {
  TETHER_ASSIGN_OR_RETURN(Value field, args.Field(name));
  return field.AsString();
}

absl::StatusOr<int64_t> IntArg(const Value& args, absl::string_view name) {
  TETHER_ASSIGN_OR_RETURN(Value field, args.Field(name));
  return field.AsInt();
}

absl::Status ApplicationError(absl::string_view type,
                              absl::string_view message) {
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_APPLICATION);
  info.set_type(std::string(type));
  info.set_message(std::string(message));
  if (ActorRuntime* self = ActorRuntime::Current()) {
    *info.mutable_source() = self->id();
    *info.add_relay_path() = self->id();
  }
  return MakeError(info);
}

// Root: a child arrived at the gate ({"pid": N}); returns when released.
absl::StatusOr<Value> AwaitGate(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t pid, IntArg(args, "pid"));
  TETHER_RETURN_IF_ERROR(TheGate().Arrive(static_cast<pid_t>(pid)));
  return Value();
}
TETHER_REGISTER_PLAIN(await_gate, AwaitGate);

// Child: {"gate": root address, "type": T}. Waits at the root's gate, then
// fails with an error of boxed type T. Like tractor's assert_err it always
// fails: a sibling's failure may cancel it while it waits, and then it
// fails on its way out, so every errorer's own error exists and the
// nursery above must report each of them.
absl::StatusOr<Value> GatedErrorer(const Value& args) {
  ActorRuntime* self = ActorRuntime::Current();
  if (self == nullptr) return absl::FailedPreconditionError("not an actor");
  TETHER_ASSIGN_OR_RETURN(std::string gate_text, StringArg(args, "gate"));
  TETHER_ASSIGN_OR_RETURN(std::string type, StringArg(args, "type"));
  TETHER_ASSIGN_OR_RETURN(Address gate, Address::Parse(gate_text));
  Portal root(self, gate);
  const absl::StatusOr<Value> waited =
      root.Run("await_gate", Value::Object({{"pid", Value::Int(getpid())}}));
  const char* how = waited.ok() ? "released" : "cancelled";
  AppendToProcessLog(absl::StrCat("failed ", getpid(), " ", how));
  return ApplicationError(
      type, absl::StrCat(self->identity().name, " failed when ", how));
}
TETHER_REGISTER_PLAIN(gated_errorer, GatedErrorer);

// tractor's argument check: any argument is one too many.
absl::Status NoArguments(const Value& args) {
  if (args.json().has_struct_value()) {
    for (const auto& field : args.json().struct_value().fields()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", field.first, "\""));
    }
    return absl::OkStatus();
  }
  if (args.is_json() &&
      (args.json().kind_case() == google::protobuf::Value::KIND_NOT_SET ||
       args.json().has_null_value())) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("takes no arguments");
}

absl::StatusOr<Value> AssertErr(const Value&) {
  return ApplicationError("AssertionError", "assert 0");
}
TETHER_REGISTER_PLAIN_CHECKED(assert_err, AssertErr, NoArguments);

void NoCoreFile() {
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
}

// Dies of SIGSEGV in this very function, so a crash report's stack starts
// here. The address is not null: under --config=asan, UBSan would report a
// null store and exit instead of letting the signal happen.
absl::StatusOr<Value> SegfaultMidCall(const Value&) {
  NoCoreFile();
  volatile uintptr_t unmapped = 8;
  *reinterpret_cast<volatile int*>(unmapped) = 1;
  return absl::InternalError("the store to an unmapped address went through");
}
TETHER_REGISTER_PLAIN(segfault_mid_call, SegfaultMidCall);

// Dies of SIGABRT, raised inside glibc's abort().
absl::StatusOr<Value> AbortMidCall(const Value&) {
  NoCoreFile();
  std::abort();
}
TETHER_REGISTER_PLAIN(abort_mid_call, AbortMidCall);

// {"breadth": B, "depth": D, "gate": root address}: a nursery of B
// children; with D > 1 each runs spawn_tree with depth D - 1, with D == 1
// each is a gated errorer. Children are named "<self>.<i>" and
// "<self>.err<i>". Returns the nursery's error.
absl::StatusOr<Value> SpawnTree(const Value& args) {
  ActorRuntime* self = ActorRuntime::Current();
  if (self == nullptr) return absl::FailedPreconditionError("not an actor");
  TETHER_ASSIGN_OR_RETURN(int64_t breadth, IntArg(args, "breadth"));
  TETHER_ASSIGN_OR_RETURN(int64_t depth, IntArg(args, "depth"));
  TETHER_ASSIGN_OR_RETURN(std::string gate, StringArg(args, "gate"));
  const std::string me = self->identity().name;
  TETHER_RETURN_IF_ERROR(
      ActorNursery::Open(self, [&](ActorNursery& nursery) -> absl::Status {
        for (int64_t i = 0; i < breadth; ++i) {
          if (depth > 1) {
            TETHER_RETURN_IF_ERROR(
                nursery
                    .RunInActor(absl::StrCat(me, ".", i), "spawn_tree",
                                Value::Object({{"breadth", Value::Int(breadth)},
                                               {"depth", Value::Int(depth - 1)},
                                               {"gate", Value::String(gate)}}),
                                Patient())
                    .status());
          } else {
            TETHER_RETURN_IF_ERROR(
                nursery
                    .RunInActor(
                        absl::StrCat(me, ".err", i), "gated_errorer",
                        Value::Object(
                            {{"gate", Value::String(gate)},
                             {"type", Value::String("AssertionError")}}),
                        Patient())
                    .status());
          }
        }
        return absl::OkStatus();
      }));
  return Value::String("the subtree did not fail");
}
TETHER_REGISTER_PLAIN(spawn_tree, SpawnTree);

// Pipeline producer: {"index": I, "count": N} streams {"p": I, "seq": k}
// for k = 0..N-1 (forever when N < 0), returns N.
absl::StatusOr<Value> Produce(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t index, IntArg(args, "index"));
  TETHER_ASSIGN_OR_RETURN(int64_t count, IntArg(args, "count"));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t seq = 0;
  for (; count < 0 || seq < count; ++seq) {
    TETHER_RETURN_IF_ERROR(stream.Send(
        Value::Object({{"p", Value::Int(index)}, {"seq", Value::Int(seq)}})));
  }
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(seq);
}
TETHER_REGISTER_CONTEXT(produce, Produce);

// Pipeline aggregator: {"producers": [addresses], "count": N} opens a
// produce context on every producer and forwards everything they stream
// into its own stream. Returns how many values it forwarded, and only
// when every producer has finished: a cancelled pipeline has no result.
absl::StatusOr<Value> Aggregate(Context& ctx, const Value& args) {
  ActorRuntime* self = ActorRuntime::Current();
  if (self == nullptr) return absl::FailedPreconditionError("not an actor");
  TETHER_ASSIGN_OR_RETURN(Value producers_field, args.Field("producers"));
  TETHER_ASSIGN_OR_RETURN(std::vector<Value> producers,
                          producers_field.Elements());
  TETHER_ASSIGN_OR_RETURN(int64_t count, IntArg(args, "count"));
  std::vector<std::unique_ptr<Portal>> portals;
  for (const Value& producer : producers) {
    TETHER_ASSIGN_OR_RETURN(std::string text, producer.AsString());
    TETHER_ASSIGN_OR_RETURN(Address address, Address::Parse(text));
    portals.push_back(std::make_unique<Portal>(self, address));
  }
  TETHER_RETURN_IF_ERROR(
      ctx.Started(Value::Int(static_cast<int64_t>(portals.size()))));
  TETHER_ASSIGN_OR_RETURN(MsgStream out, ctx.OpenStream());
  std::atomic<int64_t> forwarded{0};
  {
    TaskGroup feeds(/*cancel_on_error=*/true);
    for (size_t i = 0; i < portals.size(); ++i) {
      feeds.Spawn(absl::StrCat("feed-", i), [&, i]() -> absl::Status {
        return portals[i]->OpenContext(
            "produce",
            Value::Object({{"index", Value::Int(static_cast<int64_t>(i))},
                           {"count", Value::Int(count)}}),
            [&](Context& feed, const Value&) -> absl::Status {
              TETHER_ASSIGN_OR_RETURN(MsgStream in, feed.OpenStream());
              for (const Value& value : in) {
                TETHER_RETURN_IF_ERROR(out.Send(value));
                ++forwarded;
              }
              return in.status();
            },
            Backpressure());
      });
    }
    TETHER_RETURN_IF_ERROR(feeds.Wait());
  }
  TETHER_RETURN_IF_ERROR(out.Close());
  return Value::Int(forwarded.load());
}
TETHER_REGISTER_CONTEXT(aggregate, Aggregate);

// --- Error inspection ---

v1::ErrorInfo InfoOf(const absl::Status& status) {
  return GetErrorInfo(status).value_or(v1::ErrorInfo());
}

std::set<std::string> SourceNames(const v1::ErrorInfo& group) {
  std::set<std::string> names;
  for (const v1::ErrorInfo& member : group.errors()) {
    names.insert(member.source().name());
  }
  return names;
}

std::set<std::string> SourceUuids(const v1::ErrorInfo& group) {
  std::set<std::string> uuids;
  for (const v1::ErrorInfo& member : group.errors()) {
    uuids.insert(member.source().uuid());
  }
  return uuids;
}

std::set<std::string> Names(absl::string_view prefix, int count) {
  std::set<std::string> names;
  for (int i = 0; i < count; ++i) names.insert(absl::StrCat(prefix, i));
  return names;
}

// --- The fixture ---

// How long a nursery may take before its watchdog cancels it: far beyond
// what a healthy run needs, so only a hang trips it.
constexpr absl::Duration kNurseryLimit = absl::Seconds(90);
// Every process of a test must be gone this long after the test body.
constexpr absl::Duration kReapTimeout = absl::Seconds(15);
// Waits for children to reach some state (started a context, arrived).
constexpr absl::Duration kStepTimeout = absl::Seconds(60);
// Pause between two looks at /proc; the deadline bounds the wait.
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// The pid a child reports through Actor/Info.
absl::StatusOr<pid_t> PidOf(const Portal& portal) {
  TETHER_ASSIGN_OR_RETURN(
      v1::ActorInfo info,
      ActorClient::Dial(portal.address()).Info(absl::Seconds(10)));
  return static_cast<pid_t>(info.pid());
}

class NurseryTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(LogPath().empty()) << "main() did not call BecomeRoot()";
    log_start_ = LogSize();
    TheGate().Reset();
    absl::StatusOr<ActorIdentity> identity =
        ActorIdentity::Create("nursery-root");
    ASSERT_TRUE(identity.ok()) << identity.status();
    root_ = std::make_unique<ActorRuntime>(*std::move(identity));
    absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
        root_.get(), *Address::Parse("127.0.0.1:0"), [](const v1::ActorId&) {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    // Lets any errorer still held at the gate go.
    TheGate().Release();
    ExpectNoProcessLeft();
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    root_.reset();
  }

  ActorRuntime& root() { return *root_; }
  std::string root_address() const { return server_->address().ToString(); }

  // Children started (by anyone in the tree) since this test began.
  std::map<pid_t, ChildRecord> Children() const {
    return ReadProcessLog(log_start_);
  }

  // The children named `name`.
  std::vector<ChildRecord> ChildrenNamed(const std::string& name) const {
    std::vector<ChildRecord> found;
    for (const auto& entry : Children()) {
      if (entry.second.name == name) found.push_back(entry.second);
    }
    return found;
  }

  // The child named `name`; fails the test when there is not exactly one.
  ChildRecord Child(const std::string& name) const {
    const std::vector<ChildRecord> found = ChildrenNamed(name);
    EXPECT_EQ(found.size(), 1u) << "children named " << name;
    return found.empty() ? ChildRecord() : found.front();
  }

  // Names of the gated errorers that failed with their own error (each
  // logs it as it returns the error).
  std::set<std::string> FailedErrorers() const {
    std::set<std::string> names;
    for (const auto& entry : Children()) {
      if (!entry.second.failed.empty()) names.insert(entry.second.name);
    }
    return names;
  }

  // Every child logged since the test began returned 0 from main(): it
  // ended its serving gracefully, not by a signal or Serve's _exit.
  void ExpectEveryChildExitedCleanly() const {
    const std::map<pid_t, ChildRecord> children = Children();
    EXPECT_FALSE(children.empty());
    for (const auto& entry : children) {
      const ChildRecord& child = entry.second;
      EXPECT_TRUE(child.exit_code.has_value())
          << child.name << " (pid " << child.pid << ") did not return from "
          << "main (killed or _exit)";
      if (child.exit_code.has_value()) {
        EXPECT_EQ(*child.exit_code, 0) << child.name;
      }
    }
  }

  // ActorNursery::Open under a watchdog that cancels the opening task after
  // `limit`, so a nursery that never ends fails the test instead of hanging
  // it (the nursery then tears its children down).
  absl::Status OpenNursery(const ActorNursery::Block& block,
                           const Escalation& escalation = Escalation(),
                           absl::Duration limit = kNurseryLimit) {
    CancelScope scope;
    const CancelHandle handle = scope.handle();
    absl::Notification done;
    std::thread watchdog([&done, handle, limit] {
      if (!done.WaitForNotificationWithTimeout(limit)) {
        handle.Cancel(absl::DeadlineExceededError(
            absl::StrCat("watchdog: the nursery still ran after ",
                         absl::FormatDuration(limit))));
      }
    });
    const absl::Status status =
        ActorNursery::Open(root_.get(), block, escalation);
    done.Notify();
    watchdog.join();
    return status;
  }

  // Starts `count` gated errorers named "<prefix><i>", waits until every
  // one of them waits at the gate, then releases them together.
  absl::Status RunGatedErrorers(ActorNursery& nursery, absl::string_view prefix,
                                int count) {
    for (int i = 0; i < count; ++i) {
      TETHER_RETURN_IF_ERROR(
          nursery
              .RunInActor(
                  absl::StrCat(prefix, i), "gated_errorer",
                  Value::Object({{"gate", Value::String(root_address())},
                                 {"type", Value::String("AssertionError")}}),
                  Patient())
              .status());
    }
    TETHER_RETURN_IF_ERROR(TheGate().AwaitArrivals(count, kStepTimeout));
    TheGate().Release();
    return absl::OkStatus();
  }

 private:
  // No child of this process (orphaned descendants included, since it is a
  // subreaper) and no logged descendant may outlive the test. Whatever does
  // is reported, then killed.
  void ExpectNoProcessLeft() {
    const std::map<pid_t, ChildRecord> logged = Children();
    const absl::Time deadline = absl::Now() + kReapTimeout;
    std::vector<ProcessEntry> children;
    std::vector<ProcessEntry> alive;
    while (true) {
      children = ChildrenOfThisProcess();
      alive.clear();
      for (const auto& entry : logged) {
        if (!Gone(entry.first)) alive.push_back({entry.first, '?'});
      }
      if ((children.empty() && alive.empty()) || absl::Now() >= deadline) {
        break;
      }
      absl::SleepFor(kPollInterval);
    }
    EXPECT_TRUE(children.empty())
        << "child processes left " << absl::FormatDuration(kReapTimeout)
        << " after the test: " << DescribeProcesses(children);
    EXPECT_TRUE(alive.empty())
        << "descendants left " << absl::FormatDuration(kReapTimeout)
        << " after the test: " << DescribeProcesses(alive);
    for (const ProcessEntry& process : alive) kill(process.pid, SIGKILL);
    for (const ProcessEntry& process : children) {
      kill(process.pid, SIGKILL);
      waitpid(process.pid, nullptr, 0);
    }
  }

  int64_t log_start_ = 0;
  std::unique_ptr<ActorRuntime> root_;
  std::unique_ptr<ActorServer> server_;
};

// --- 1. Remote errors keep their boxed type ---

TEST_F(NurseryTest, FailingRunInActorReturnsTheBoxedRemoteError) {
  absl::StatusOr<Value> waited;
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(
            Portal * errorer,
            nursery.RunInActor(
                "errorer", "fail",
                Value::Object({{"type", Value::String("ValueError")},
                               {"message", Value::String("bad input 42")}}),
                Patient()));
        waited = nursery.WaitResult(errorer);
        return absl::OkStatus();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
  EXPECT_EQ(info.type(), "ValueError");
  EXPECT_EQ(info.message(), "bad input 42");
  EXPECT_EQ(info.source().name(), "errorer");
  EXPECT_FALSE(info.source().uuid().empty());
  EXPECT_TRUE(IsRemoteError(status, root().id()));
  ASSERT_GT(info.relay_path_size(), 0);
  EXPECT_EQ(info.relay_path(0).uuid(), info.source().uuid());
  // WaitResult hands the block the same boxed error.
  EXPECT_FALSE(waited.ok());
  EXPECT_EQ(InfoOf(waited.status()).type(), "ValueError");
  EXPECT_EQ(InfoOf(waited.status()).source().uuid(), info.source().uuid());
  EXPECT_NE(Child("errorer").pid, 0);
}

TEST_F(NurseryTest, UnexpectedArgumentIsABadArgumentErrorNamingIt) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery
            .RunInActor("errorer", "assert_err",
                        Value::Object({{"unexpected", Value::Int(10)}}),
                        Patient())
            .status();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_BAD_ARGUMENT) << DescribeError(status);
  EXPECT_EQ(info.type(), kBadArgumentType);
  EXPECT_TRUE(absl::StrContains(info.message(), "assert_err"))
      << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), "unexpected argument"))
      << info.message();
  EXPECT_EQ(info.source().name(), "errorer");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

// tractor: an error the block re-raises from the child's result is the
// child's error, not a second one ("the error here and the far end task
// error are one and the same"), so no group comes out.
TEST_F(NurseryTest, ChildErrorReRaisedByTheBlockIsReportedOnce) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(
            Portal * errorer,
            nursery.RunInActor(
                "errorer", "fail",
                Value::Object({{"type", Value::String("ValueError")},
                               {"message", Value::String("bad input")}}),
                Patient()));
        return nursery.WaitResult(errorer).status();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
  EXPECT_EQ(info.type(), "ValueError");
  EXPECT_EQ(info.source().name(), "errorer");
}

// --- 2. Several failures come back as one group ---

TEST_F(NurseryTest, TwoFailingChildrenMakeAGroupNamingEachChild) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return RunGatedErrorers(nursery, "errorer-", 2);
      });

  const v1::ErrorInfo info = InfoOf(status);
  ASSERT_EQ(info.kind(), v1::ERROR_KIND_GROUP) << DescribeError(status);
  EXPECT_EQ(info.type(), kErrorGroupType);
  EXPECT_EQ(info.source().uuid(), root().id().uuid());
  ASSERT_EQ(info.errors_size(), 2) << DescribeError(status);
  for (const v1::ErrorInfo& member : info.errors()) {
    EXPECT_EQ(member.kind(), v1::ERROR_KIND_APPLICATION);
    EXPECT_EQ(member.type(), "AssertionError");
  }
  EXPECT_EQ(SourceNames(info), Names("errorer-", 2));
  EXPECT_EQ(SourceUuids(info).size(), 2u);
  // Every errorer did fail with its own error.
  EXPECT_EQ(FailedErrorers(), Names("errorer-", 2));
}

TEST_F(NurseryTest, TwentyFiveFailingChildrenMakeAGroupOfTwentyFive) {
  constexpr int kErrorers = 25;
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return RunGatedErrorers(nursery, "errorer-", kErrorers);
      });

  const v1::ErrorInfo info = InfoOf(status);
  // Every errorer did fail with its own error; the group must hold each.
  EXPECT_EQ(FailedErrorers(), Names("errorer-", kErrorers));
  ASSERT_EQ(info.kind(), v1::ERROR_KIND_GROUP) << DescribeError(status);
  EXPECT_EQ(SourceNames(info), FailedErrorers());
  ASSERT_EQ(info.errors_size(), kErrorers) << DescribeError(status);
  for (const v1::ErrorInfo& member : info.errors()) {
    EXPECT_EQ(member.kind(), v1::ERROR_KIND_APPLICATION);
    EXPECT_EQ(member.type(), "AssertionError");
  }
  EXPECT_EQ(SourceNames(info), Names("errorer-", kErrorers));
  EXPECT_EQ(SourceUuids(info).size(), static_cast<size_t>(kErrorers));
  const std::vector<pid_t> pids = TheGate().pids();
  EXPECT_EQ(pids.size(), static_cast<size_t>(kErrorers));
  for (pid_t pid : pids) EXPECT_TRUE(Gone(pid)) << "errorer pid " << pid;
}

// --- 3. Failing children cancel every daemon ---

class FailingChildrenTest : public NurseryTest,
                            public testing::WithParamInterface<int> {};

TEST_P(FailingChildrenTest, CancelEveryDaemonAndLeaveNoProcess) {
  const int errorers = GetParam();
  std::vector<pid_t> daemon_pids;
  absl::Status sleeper_outcome = absl::UnknownError("never set");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * idle,
                                nursery.StartActor("daemon-idle", Patient()));
        TETHER_ASSIGN_OR_RETURN(
            Portal * sleeper, nursery.StartActor("daemon-sleeper", Patient()));
        for (const Portal* daemon : {idle, sleeper}) {
          TETHER_ASSIGN_OR_RETURN(pid_t pid, PidOf(*daemon));
          daemon_pids.push_back(pid);
        }
        TaskGroup holders;
        absl::Notification sleeping;
        holders.Spawn("sleeper", [&]() -> absl::Status {
          sleeper_outcome = sleeper->OpenContext(
              "sleep_forever", Value(),
              [&](Context& ctx, const Value&) -> absl::Status {
                sleeping.Notify();
                return ctx.Result().status();
              });
          return absl::OkStatus();
        });
        if (!sleeping.WaitForNotificationWithTimeout(kStepTimeout)) {
          holders.CancelAll(absl::DeadlineExceededError("no sleep_forever"));
          holders.Wait().IgnoreError();
          return absl::DeadlineExceededError("sleep_forever never started");
        }
        TETHER_RETURN_IF_ERROR(RunGatedErrorers(nursery, "errorer-", errorers));
        // Ends once the nursery has cancelled the sleeping daemon.
        return holders.Wait();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(FailedErrorers(), Names("errorer-", errorers));
  if (errorers == 1) {
    EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
    EXPECT_EQ(info.type(), "AssertionError");
    EXPECT_EQ(info.source().name(), "errorer-0");
  } else {
    ASSERT_EQ(info.kind(), v1::ERROR_KIND_GROUP) << DescribeError(status);
    EXPECT_EQ(info.errors_size(), errorers) << DescribeError(status);
    EXPECT_EQ(SourceNames(info), Names("errorer-", errorers));
  }
  // The daemon's context ended because the nursery (this actor) cancelled
  // it; this side did not ask, so it is not absorbed.
  const v1::ErrorInfo sleeper_info = InfoOf(sleeper_outcome);
  EXPECT_EQ(sleeper_info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << DescribeError(sleeper_outcome);
  EXPECT_EQ(sleeper_info.canceller().uuid(), root().id().uuid());

  // Open returns only when every child has exited and been reaped.
  ASSERT_EQ(daemon_pids.size(), 2u);
  std::vector<pid_t> pids = TheGate().pids();
  pids.insert(pids.end(), daemon_pids.begin(), daemon_pids.end());
  EXPECT_EQ(pids.size(), daemon_pids.size() + errorers);
  for (pid_t pid : pids) EXPECT_TRUE(Gone(pid)) << "pid " << pid;
  EXPECT_TRUE(ChildrenOfThisProcess().empty())
      << DescribeProcesses(ChildrenOfThisProcess());
  EXPECT_EQ(Child("daemon-idle").exit_code, 0);
  EXPECT_EQ(Child("daemon-sleeper").exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Errorers, FailingChildrenTest, testing::Values(1, 3),
                         [](const testing::TestParamInfo<int>& info) {
                           return absl::StrCat(info.param, "_failing");
                         });

// A daemon whose boot was under way when the nursery began failing, and
// completes after that, must be cancelled too: the nursery must neither
// leave it running nor wait for it forever. The daemon's boot is held
// (kHeldBooter) until the errorer's failure has been handled.
TEST_F(NurseryTest, DaemonBootingWhileTheNurseryFailsIsCancelledToo) {
  std::remove(HoldFile().c_str());
  absl::StatusOr<Portal*> late = absl::UnknownError("never started");
  const absl::Time start = absl::Now();
  const absl::Status status = OpenNursery(
      [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(
            Portal * errorer,
            nursery.RunInActor(
                "errorer", "gated_errorer",
                Value::Object({{"gate", Value::String(root_address())},
                               {"type", Value::String("ValueError")}}),
                Patient()));
        TETHER_RETURN_IF_ERROR(TheGate().AwaitArrivals(1, kStepTimeout));
        TaskGroup starter;
        starter.Spawn("start-late-daemon", [&]() -> absl::Status {
          late = nursery.StartActor(kHeldBooter, Patient());
          return absl::OkStatus();
        });
        // The daemon's process exists: StartActor is past its checks.
        const absl::Time deadline = absl::Now() + kStepTimeout;
        while (ChildrenNamed(kHeldBooter).empty() && absl::Now() < deadline) {
          absl::SleepFor(kPollInterval);
        }
        TheGate().Release();
        const absl::Status failed = nursery.WaitResult(errorer).status();
        // The errorer is gone once the nursery has handled its failure
        // (recorded it and cancelled every child it knew).
        const pid_t errorer_pid = Child("errorer").pid;
        while (!Gone(errorer_pid) && absl::Now() < deadline) {
          absl::SleepFor(kPollInterval);
        }
        std::ofstream(HoldFile()).put('\n');
        const absl::Status started = starter.Wait();
        EXPECT_FALSE(failed.ok());
        EXPECT_TRUE(Gone(errorer_pid));
        return started;
      },
      Escalation(), absl::Seconds(20));
  std::remove(HoldFile().c_str());

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
  EXPECT_EQ(info.type(), "ValueError");
  EXPECT_EQ(info.source().name(), "errorer");
  EXPECT_FALSE(absl::StrContains(DescribeError(status), "watchdog"))
      << "the nursery hung until its watchdog fired ("
      << absl::FormatDuration(absl::Now() - start) << "); late-daemon "
      << (late.ok() ? "had started" : "was refused");
  EXPECT_NE(Child(kHeldBooter).pid, 0);
}

// --- 4. Nested trees ---

// Checks the error of the subtree under `spawner`: a group raised there
// whose members are its children's errors (groups of their own subtrees,
// AssertionErrors of leaf errorers) and, when a failing sibling subtree made
// the parent cancel `spawner` while it waited for its children, that
// cancellation (raised at `spawner`, cancelled by an ancestor). Counts the
// leaf errors.
void ExpectSubtreeGroup(const v1::ErrorInfo& info, const std::string& spawner,
                        const std::string& root_name, int* leaf_errors) {
  ASSERT_EQ(info.kind(), v1::ERROR_KIND_GROUP)
      << spawner << ": " << info.DebugString();
  EXPECT_EQ(info.source().name(), spawner);
  EXPECT_GE(info.errors_size(), 1);
  for (const v1::ErrorInfo& member : info.errors()) {
    const std::string& source = member.source().name();
    if (member.kind() == v1::ERROR_KIND_CONTEXT_CANCELLED) {
      const std::string& canceller = member.canceller().name();
      EXPECT_EQ(source, spawner) << member.DebugString();
      EXPECT_TRUE(canceller == root_name ||
                  absl::StartsWith(spawner, canceller + "."))
          << canceller << " is not an ancestor of " << spawner;
      continue;
    }
    EXPECT_TRUE(absl::StartsWith(source, spawner + "."))
        << source << " is not in the subtree of " << spawner;
    switch (member.kind()) {
      case v1::ERROR_KIND_GROUP:
        ExpectSubtreeGroup(member, source, root_name, leaf_errors);
        break;
      case v1::ERROR_KIND_APPLICATION:
        EXPECT_EQ(member.type(), "AssertionError") << member.DebugString();
        EXPECT_TRUE(absl::StrContains(source, ".err")) << source;
        ++*leaf_errors;
        break;
      default:
        ADD_FAILURE() << "unexpected member under " << spawner << ": "
                      << member.DebugString();
    }
  }
}

TEST_F(NurseryTest, NestedTreeOfFailuresComesBackAsGroupsOfGroups) {
  constexpr int kBreadth = 2;
  constexpr int kDepth = 3;  // root -> spawners -> spawners -> errorers
  constexpr int kLeaves = kBreadth * kBreadth * kBreadth;
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        for (int i = 0; i < kBreadth; ++i) {
          TETHER_RETURN_IF_ERROR(
              nursery
                  .RunInActor(
                      absl::StrCat("spawner-", i), "spawn_tree",
                      Value::Object({{"breadth", Value::Int(kBreadth)},
                                     {"depth", Value::Int(kDepth - 1)},
                                     {"gate", Value::String(root_address())}}),
                      Patient())
                  .status());
        }
        TETHER_RETURN_IF_ERROR(TheGate().AwaitArrivals(kLeaves, kStepTimeout));
        TheGate().Release();
        return absl::OkStatus();
      });

  const v1::ErrorInfo info = InfoOf(status);
  ASSERT_EQ(info.kind(), v1::ERROR_KIND_GROUP) << DescribeError(status);
  EXPECT_EQ(info.source().uuid(), root().id().uuid());
  ASSERT_EQ(info.errors_size(), kBreadth) << DescribeError(status);
  EXPECT_EQ(SourceNames(info), Names("spawner-", kBreadth));
  for (const v1::ErrorInfo& subtree : info.errors()) {
    int leaf_errors = 0;
    ExpectSubtreeGroup(subtree, subtree.source().name(), root().identity().name,
                       &leaf_errors);
    EXPECT_GE(leaf_errors, 1)
        << "no leaf error under " << subtree.source().name();
  }
  // 2 + 4 spawners and 8 errorers, every one of them gone.
  EXPECT_EQ(Children().size(), 2u + 4u + kLeaves);
}

// --- 7. Graceful cancel of a daemon wins over the hard-kill path ---

TEST_F(NurseryTest, CancellingAnIdleDaemonIsFasterThanTheSigtermStep) {
  // A cancel step long enough that SIGTERM cannot end the measurement.
  Escalation patient;
  patient.cancel_timeout = absl::Seconds(10);
  absl::Time cancelled_at;
  pid_t pid = 0;
  const absl::Status status = OpenNursery(
      [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * daemon,
                                nursery.StartActor("idle", Patient()));
        TETHER_ASSIGN_OR_RETURN(pid, PidOf(*daemon));
        cancelled_at = absl::Now();
        nursery.CancelAll();
        return absl::OkStatus();
      },
      patient);
  const absl::Duration teardown = absl::Now() - cancelled_at;

  EXPECT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_LT(teardown, Escalation().cancel_timeout)
      << "cancelling an idle daemon took " << teardown;
  EXPECT_TRUE(Gone(pid));
  EXPECT_EQ(Child("idle").exit_code, 0);
}

// --- 10. Cancelling a fan-in pipeline ---

enum class CancelPoint {
  kNone,               // runs to completion: the baseline
  kAfterStarted,       // the root cancels its context before any data
  kMidStream,          // the root cancels its context mid-stream
  kProducerCancelled,  // the root cancels one producer actor mid-stream
  kNurseryCancelAll,   // the root cancels the whole nursery mid-stream
};

std::string CancelPointName(CancelPoint point) {
  switch (point) {
    case CancelPoint::kNone:
      return "Complete";
    case CancelPoint::kAfterStarted:
      return "ContextCancelAfterStarted";
    case CancelPoint::kMidStream:
      return "ContextCancelMidStream";
    case CancelPoint::kProducerCancelled:
      return "ProducerActorCancelled";
    case CancelPoint::kNurseryCancelAll:
      return "NurseryCancelAll";
  }
  return "Unknown";
}

class PipelineTest : public NurseryTest,
                     public testing::WithParamInterface<CancelPoint> {};

TEST_P(PipelineTest, CancelReportsNoPartialResultAndEndsGracefully) {
  constexpr int kProducers = 3;
  constexpr int64_t kCount = 200;  // per producer, in the complete run
  constexpr int64_t kBeforeCancel = 30;
  constexpr absl::Duration kReceiveTimeout = absl::Seconds(30);
  const CancelPoint point = GetParam();
  const int64_t count = point == CancelPoint::kNone ? kCount : -1;

  // Per producer, the next sequence number expected.
  std::map<int64_t, int64_t> next_seq;
  int64_t received = 0;
  std::vector<std::string> disorder;
  std::optional<absl::StatusOr<Value>> outcome;
  absl::Status end_of_stream;
  absl::Status context_status = absl::UnknownError("never opened");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        std::vector<Portal*> producers;
        std::vector<Value> addresses;
        for (int i = 0; i < kProducers; ++i) {
          TETHER_ASSIGN_OR_RETURN(
              Portal * producer,
              nursery.StartActor(absl::StrCat("producer-", i), Patient()));
          producers.push_back(producer);
          addresses.push_back(Value::String(producer->address().ToString()));
        }
        TETHER_ASSIGN_OR_RETURN(Portal * aggregator,
                                nursery.StartActor("aggregator", Patient()));
        context_status = aggregator->OpenContext(
            "aggregate",
            Value::Object({{"producers", Value::List(addresses)},
                           {"count", Value::Int(count)}}),
            [&](Context& ctx, const Value&) -> absl::Status {
              if (point == CancelPoint::kAfterStarted) {
                ctx.Cancel();
                outcome = ctx.Result(absl::Now() + kReceiveTimeout);
                return absl::OkStatus();
              }
              TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
              const int64_t wanted = point == CancelPoint::kNone
                                         ? kProducers * kCount
                                         : kBeforeCancel;
              while (received < wanted) {
                TETHER_ASSIGN_OR_RETURN(
                    Value value, stream.Receive(absl::Now() + kReceiveTimeout));
                TETHER_ASSIGN_OR_RETURN(int64_t p, IntArg(value, "p"));
                TETHER_ASSIGN_OR_RETURN(int64_t seq, IntArg(value, "seq"));
                if (seq != next_seq[p]) disorder.push_back(value.ToJson());
                next_seq[p] = seq + 1;
                ++received;
              }
              switch (point) {
                case CancelPoint::kNone:
                  end_of_stream =
                      stream.Receive(absl::Now() + kReceiveTimeout).status();
                  break;
                case CancelPoint::kMidStream:
                  ctx.Cancel();
                  break;
                case CancelPoint::kProducerCancelled:
                  TETHER_RETURN_IF_ERROR(producers[1]->CancelActor().status());
                  break;
                case CancelPoint::kNurseryCancelAll:
                  nursery.CancelAll();
                  break;
                case CancelPoint::kAfterStarted:
                  break;
              }
              outcome = ctx.Result(absl::Now() + kReceiveTimeout);
              return absl::OkStatus();
            },
            Backpressure());
        nursery.CancelAll();
        return absl::OkStatus();
      });

  EXPECT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_TRUE(disorder.empty()) << absl::StrJoin(disorder, " ");
  ASSERT_TRUE(outcome.has_value()) << DescribeError(context_status);
  const v1::ErrorInfo info = InfoOf(outcome->status());
  switch (point) {
    case CancelPoint::kNone:
      ASSERT_TRUE(outcome->ok()) << DescribeError(outcome->status());
      EXPECT_EQ(**outcome, Value::Int(kProducers * kCount));
      EXPECT_EQ(end_of_stream.code(), absl::StatusCode::kOutOfRange)
          << end_of_stream;
      for (int64_t p = 0; p < kProducers; ++p) EXPECT_EQ(next_seq[p], kCount);
      EXPECT_TRUE(context_status.ok()) << DescribeError(context_status);
      break;
    case CancelPoint::kAfterStarted:
    case CancelPoint::kMidStream:
      // Our own cancel: the outcome is the ContextCancelled it brought,
      // never a partial count, and the context block absorbs it.
      EXPECT_FALSE(outcome->ok())
          << "partial result " << outcome->value().ToJson();
      EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
          << DescribeError(outcome->status());
      EXPECT_EQ(info.canceller().uuid(), root().id().uuid());
      EXPECT_TRUE(context_status.ok()) << DescribeError(context_status);
      break;
    case CancelPoint::kProducerCancelled:
      // The producer's ContextCancelled, relayed by the aggregator.
      EXPECT_FALSE(outcome->ok())
          << "partial result " << outcome->value().ToJson();
      EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
          << DescribeError(outcome->status());
      EXPECT_EQ(info.source().name(), "producer-1");
      EXPECT_EQ(info.canceller().uuid(), root().id().uuid());
      EXPECT_TRUE(std::any_of(
          info.relay_path().begin(), info.relay_path().end(),
          [](const v1::ActorId& hop) { return hop.name() == "aggregator"; }))
          << DescribeError(outcome->status());
      EXPECT_FALSE(context_status.ok());
      break;
    case CancelPoint::kNurseryCancelAll:
      // Cancelled by this actor, which did not cancel the context itself:
      // not absorbed.
      EXPECT_FALSE(outcome->ok())
          << "partial result " << outcome->value().ToJson();
      EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
          << DescribeError(outcome->status());
      EXPECT_EQ(info.canceller().uuid(), root().id().uuid());
      EXPECT_FALSE(context_status.ok());
      break;
  }
  if (point != CancelPoint::kAfterStarted) {
    EXPECT_GE(received, kBeforeCancel);
  }
  EXPECT_EQ(Children().size(), static_cast<size_t>(kProducers + 1));
  ExpectEveryChildExitedCleanly();
}

INSTANTIATE_TEST_SUITE_P(CancelPoints, PipelineTest,
                         testing::Values(CancelPoint::kNone,
                                         CancelPoint::kAfterStarted,
                                         CancelPoint::kMidStream,
                                         CancelPoint::kProducerCancelled,
                                         CancelPoint::kNurseryCancelAll),
                         [](const testing::TestParamInfo<CancelPoint>& info) {
                           return CancelPointName(info.param);
                         });

// --- 12. Children that crash during boot ---

TEST_F(NurseryTest, ChildAbortingDuringBootIsAnActorFailureWithItsStderr) {
  absl::Status start_error;
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_RETURN_IF_ERROR(
            nursery.StartActor("bystander", Patient()).status());
        start_error = nursery.StartActor(kBootCrasher, Patient()).status();
        return start_error;
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.type(), kActorFailureType);
  EXPECT_EQ(info.source().name(), kBootCrasher);
  EXPECT_TRUE(absl::StrContains(info.message(), "signal 6")) << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), kBootCrashLine))
      << info.message();
  EXPECT_EQ(InfoOf(start_error).kind(), v1::ERROR_KIND_ACTOR_FAILURE);
  EXPECT_FALSE(Child(kBootCrasher).exit_code.has_value());
  EXPECT_EQ(Child("bystander").exit_code, 0);
}

TEST_F(NurseryTest, ChildThatCannotServeIsAnActorFailureWithItsStderr) {
  ActorOptions unservable = Patient();
  unservable.listen = "unix:/nonexistent-dir/x.sock";
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery.StartActor("homeless", unservable).status();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.source().name(), "homeless");
  EXPECT_TRUE(absl::StrContains(info.message(), "exit code 3"))
      << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), "cannot serve"))
      << info.message();
  EXPECT_TRUE(absl::StrContains(info.message(), "/nonexistent-dir/x.sock"))
      << info.message();
  EXPECT_EQ(Child("homeless").exit_code, 3);
}

// RunInActor both fails the nursery with a boot failure and returns it; a
// block that passes it on must not turn the one failure into a group.
TEST_F(NurseryTest, BootFailureOfARunInActorChildIsReportedOnce) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery.RunInActor(kBootCrasher, "echo", Value(), Patient())
            .status();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.source().name(), kBootCrasher);
  EXPECT_TRUE(absl::StrContains(info.message(), "signal 6")) << info.message();
}

// --- Crash reports ---

// The ActorFailure in `status`, itself or a member of its group.
std::optional<v1::ErrorInfo> ActorFailureIn(const absl::Status& status) {
  const v1::ErrorInfo info = InfoOf(status);
  if (info.kind() == v1::ERROR_KIND_ACTOR_FAILURE) return info;
  for (const v1::ErrorInfo& member : info.errors()) {
    if (member.kind() == v1::ERROR_KIND_ACTOR_FAILURE) return member;
  }
  return std::nullopt;
}

// A child's fatal signal is reported with the tail of its stderr, where
// the failure signal handler child_main installs wrote the signal and the
// stack: a frame line must name `function` (abseil's "PC: @ 0x..." or
// "@ 0x...", or under --config=asan the sanitizer's "#N 0x... in").
void ExpectSymbolizedCrashReport(const absl::Status& status,
                                 absl::string_view signal,
                                 absl::string_view function) {
  const std::optional<v1::ErrorInfo> failure = ActorFailureIn(status);
  ASSERT_TRUE(failure.has_value()) << DescribeError(status);
  EXPECT_EQ(failure->source().name(), "crasher");
  const std::string& report = failure->message();
  EXPECT_TRUE(absl::StrContains(report, "died: signal")) << report;
  EXPECT_TRUE(absl::StrContains(report, "its stderr ends with:")) << report;
  EXPECT_TRUE(absl::StrContains(report, signal)) << report;
  bool symbolized = false;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    absl::string_view address = line;
    const bool frame =
        ((absl::ConsumePrefix(&address, "PC: @") ||
          absl::ConsumePrefix(&address, "@")) &&
         absl::StartsWith(absl::StripLeadingAsciiWhitespace(address), "0x")) ||
        (absl::StartsWith(line, "#") && absl::StrContains(line, " in "));
    symbolized = symbolized || (frame && absl::StrContains(line, function));
  }
  EXPECT_TRUE(symbolized) << report;
}

TEST_F(NurseryTest, DaemonDyingOfASignalReportsItsSymbolizedStack) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * crasher,
                                nursery.StartActor("crasher", Patient()));
        // The call breaks with the process; its death fails the nursery.
        EXPECT_FALSE(crasher->Run("segfault_mid_call", Value()).ok());
        return absl::OkStatus();
      });
  ExpectSymbolizedCrashReport(status, "SIGSEGV", "SegfaultMidCall()");
  EXPECT_FALSE(Child("crasher").exit_code.has_value());
}

// Disabled: fails today, in about half the runs. The function's call ends
// with TransportClosed as the child dies, RunInActor fails the nursery
// with it, and Watch then takes the death for part of that cancellation
// and drops the ActorFailure that carries the crash report.
TEST_F(NurseryTest,
       DISABLED_RunInActorChildDyingOfASignalReportsItsSymbolizedStack) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        return nursery
            .RunInActor("crasher", "segfault_mid_call", Value(), Patient())
            .status();
      });
  ExpectSymbolizedCrashReport(status, "SIGSEGV", "SegfaultMidCall()");
}

// Disabled: fails today. abseil's handler (Debian's 20220623) prints the
// faulting PC and then one bogus frame instead of the callers; abort()
// faults inside glibc, whose PC it cannot symbolize, so the report names
// no function at all.
TEST_F(NurseryTest, DISABLED_DaemonAbortingReportsItsSymbolizedStack) {
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * crasher,
                                nursery.StartActor("crasher", Patient()));
        EXPECT_FALSE(crasher->Run("abort_mid_call", Value()).ok());
        return absl::OkStatus();
      });
  ExpectSymbolizedCrashReport(status, "SIGABRT", "AbortMidCall()");
}

// --- A daemon that dies unexpectedly ---

TEST_F(NurseryTest, DaemonKilledBySigkillFailsTheNurseryAndCancelsSiblings) {
  pid_t victim_pid = 0;
  pid_t sibling_pid = 0;
  absl::Status sibling_outcome = absl::UnknownError("never set");
  const absl::Status status =
      OpenNursery([&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * victim,
                                nursery.StartActor("victim", Patient()));
        TETHER_ASSIGN_OR_RETURN(Portal * sibling,
                                nursery.StartActor("sibling", Patient()));
        TETHER_ASSIGN_OR_RETURN(victim_pid, PidOf(*victim));
        TETHER_ASSIGN_OR_RETURN(sibling_pid, PidOf(*sibling));
        TaskGroup holders;
        absl::Notification sleeping;
        holders.Spawn("sibling", [&]() -> absl::Status {
          sibling_outcome = sibling->OpenContext(
              "sleep_forever", Value(),
              [&](Context& ctx, const Value&) -> absl::Status {
                sleeping.Notify();
                return ctx.Result().status();
              });
          return absl::OkStatus();
        });
        if (!sleeping.WaitForNotificationWithTimeout(kStepTimeout)) {
          holders.CancelAll(absl::DeadlineExceededError("no sleep_forever"));
          holders.Wait().IgnoreError();
          return absl::DeadlineExceededError("sleep_forever never started");
        }
        if (kill(victim_pid, SIGKILL) != 0) {
          holders.CancelAll(absl::InternalError("kill failed"));
          holders.Wait().IgnoreError();
          return absl::InternalError(
              absl::StrCat("kill(", victim_pid, "): ", strerror(errno)));
        }
        // Ends once the nursery has cancelled the sibling.
        return holders.Wait();
      });

  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_ACTOR_FAILURE) << DescribeError(status);
  EXPECT_EQ(info.type(), kActorFailureType);
  EXPECT_EQ(info.source().name(), "victim");
  EXPECT_TRUE(absl::StrContains(info.message(), "signal 9")) << info.message();
  const v1::ErrorInfo sibling_info = InfoOf(sibling_outcome);
  EXPECT_EQ(sibling_info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << DescribeError(sibling_outcome);
  EXPECT_EQ(sibling_info.canceller().uuid(), root().id().uuid());
  EXPECT_TRUE(Gone(victim_pid));
  EXPECT_TRUE(Gone(sibling_pid));
  EXPECT_FALSE(Child("victim").exit_code.has_value());
  EXPECT_EQ(Child("sibling").exit_code, 0);
}

}  // namespace
}  // namespace tether

int main(int argc, char** argv) {
  tether::BeforeChildBoot(argv[0]);
  if (std::optional<int> code = tether::RunAsChildIfSpawned(argc, argv)) {
    tether::AfterChildExit(*code);
    return *code;
  }
  tether::BecomeRoot();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
