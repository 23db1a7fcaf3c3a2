#include "tests/trees/nursery_test_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/actor_client.h"
#include "runtime/base/actor_identity.h"
#include "runtime/task/wait.h"
#include "testing/poll_until.h"
#include "tests/support/test_token.h"
#include "tether/address.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/status_macros.h"
#include "tether/v1/actor.pb.h"
#include "tether/v1/identity.pb.h"

namespace tether::nursery_test {

std::string HoldFile() { return ProcessLogPath() + ".go"; }

// --- Processes ---

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

// --- The gate ---

void Gate::Reset() {
  absl::MutexLock lock(&mu_);
  arrived_ = 0;
  released_ = false;
  pids_.clear();
}

absl::Status Gate::Arrive(pid_t pid) {
  absl::MutexLock lock(&mu_);
  ++arrived_;
  pids_.push_back(pid);
  waiters_.NotifyAll();
  return AwaitLocked(
      mu_, waiters_,
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return released_; },
      absl::InfiniteFuture());
}

absl::Status Gate::AwaitArrivals(int count, absl::Duration timeout) {
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

void Gate::Release() {
  absl::MutexLock lock(&mu_);
  released_ = true;
  waiters_.NotifyAll();
}

std::vector<pid_t> Gate::pids() const {
  absl::MutexLock lock(&mu_);
  return pids_;
}

Gate& TheGate() {
  static Gate* const gate = new Gate();
  return *gate;
}

// --- Arguments and errors ---

ActorOptions Patient() {
  ActorOptions options;
  options.spawn_timeout = absl::Seconds(60);
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
  if (ActorCore* self = ActorCore::Current()) {
    *info.mutable_source() = self->id();
    *info.add_relay_path() = self->id();
  }
  return MakeError(info);
}

// --- Functions every nursery test's actors run ---

namespace {

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
  ActorCore* self = ActorCore::Current();
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

}  // namespace

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

absl::StatusOr<pid_t> PidOf(const Portal& portal) {
  TETHER_ASSIGN_OR_RETURN(v1::ActorInfo info,
                          ActorClient::Dial(portal.address(), TestTreeToken())
                              .Info(absl::Seconds(10)));
  return static_cast<pid_t>(info.pid());
}

void NurseryTest::SetUp() {
  ASSERT_FALSE(ProcessLogPath().empty()) << "main() did not call BecomeRoot()";
  log_start_ = ProcessLogSize();
  TheGate().Reset();
  absl::StatusOr<ActorIdentity> identity =
      ActorIdentity::Create("nursery-root");
  ASSERT_TRUE(identity.ok()) << identity.status();
  root_ = std::make_unique<ActorCore>(*std::move(identity));
  root_->SetToken(TestTreeToken());
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      root_.get(), *Address::Parse("127.0.0.1:0"), [](const v1::ActorId&) {},
      nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
}

void NurseryTest::TearDown() {
  // Lets any errorer still held at the gate go.
  TheGate().Release();
  ExpectNoProcessLeft();
  if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  server_.reset();
  root_.reset();
}

std::map<pid_t, ChildRecord> NurseryTest::Children() const {
  return ReadProcessLog(log_start_);
}

std::vector<ChildRecord> NurseryTest::ChildrenNamed(
    const std::string& name) const {
  std::vector<ChildRecord> found;
  for (const auto& entry : Children()) {
    if (entry.second.name == name) found.push_back(entry.second);
  }
  return found;
}

ChildRecord NurseryTest::Child(const std::string& name) const {
  const std::vector<ChildRecord> found = ChildrenNamed(name);
  EXPECT_EQ(found.size(), 1u) << "children named " << name;
  return found.empty() ? ChildRecord() : found.front();
}

std::set<std::string> NurseryTest::FailedErrorers() const {
  std::set<std::string> names;
  for (const auto& entry : Children()) {
    if (!entry.second.failed.empty()) names.insert(entry.second.name);
  }
  return names;
}

void NurseryTest::ExpectEveryChildExitedCleanly() const {
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

absl::Status NurseryTest::OpenNursery(const ActorNursery::Block& block,
                                      const Escalation& escalation,
                                      absl::Duration limit) {
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

absl::Status NurseryTest::RunGatedErrorers(ActorNursery& nursery,
                                           absl::string_view prefix,
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

void NurseryTest::ExpectNoProcessLeft() {
  const std::map<pid_t, ChildRecord> logged = Children();
  std::vector<ProcessEntry> children;
  std::vector<ProcessEntry> alive;
  PollUntil(absl::Now() + kReapTimeout, [&] {
    children = ChildrenOfThisProcess();
    // This process is a subreaper: a grandchild orphaned by a killed child
    // (e.g. LeakSanitizer's tracer) becomes its child. A dead one has left
    // nothing running; reap it as init would. Live ones still count.
    for (const ProcessEntry& process : children) {
      if (process.state == 'Z' && logged.count(process.pid) == 0) {
        waitpid(process.pid, nullptr, WNOHANG);
      }
    }
    children = ChildrenOfThisProcess();
    alive.clear();
    for (const auto& entry : logged) {
      if (!Gone(entry.first)) alive.push_back({entry.first, '?'});
    }
    return children.empty() && alive.empty();
  });
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

}  // namespace tether::nursery_test
