#include "tests/contexts/context_semantics_fixture.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/actor_client.h"
#include "tests/support/test_token.h"
#include "tether/address.h"
#include "tether/errors.h"
#include "tether/task.h"
#include "tether/v1/actor.pb.h"

namespace tether::context_semantics {
namespace {

// A test that runs longer is cancelled by the watchdog (a passing test
// takes well under a second)...
constexpr absl::Duration kTestDeadline = absl::Seconds(20);
// ...and the process aborted if the cancel does not end it either.
constexpr absl::Duration kAbortGrace = absl::Seconds(10);

}  // namespace

absl::Time Deadline() { return absl::Now() + kWait; }

// Cancels the scope of the thread that created it once `deadline` has
// passed; aborts the process if the test is still running `kAbortGrace`
// later. Create and destroy it on the test thread.
class Watchdog {
 public:
  explicit Watchdog(absl::Duration deadline)
      : thread_([this, deadline, handle = scope_.handle()] {
          if (done_.WaitForNotificationWithTimeout(deadline)) return;
          ADD_FAILURE() << "the test ran past its " << deadline
                        << " deadline; cancelling it";
          handle.Cancel(absl::DeadlineExceededError("test watchdog"));
          if (done_.WaitForNotificationWithTimeout(kAbortGrace)) return;
          std::fprintf(stderr, "the test ignored its watchdog's cancel\n");
          std::abort();
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    done_.Notify();
    thread_.join();
  }

 private:
  CancelScope scope_;
  absl::Notification done_;
  std::thread thread_;
};

bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

ActorIdentity Identity(const std::string& name) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create(name);
  EXPECT_TRUE(identity.ok()) << identity.status();
  return *identity;
}

v1::ErrorInfo InfoOf(const absl::Status& status) {
  std::optional<v1::ErrorInfo> info = GetErrorInfo(status);
  EXPECT_TRUE(info.has_value()) << "no ErrorInfo in: " << status;
  return info.value_or(v1::ErrorInfo());
}

void ExpectCancelledBy(const absl::Status& status,
                       const v1::ActorId& canceller) {
  EXPECT_TRUE(IsContextCancelled(status)) << DescribeError(status);
  EXPECT_EQ(InfoOf(status).canceller().uuid(), canceller.uuid())
      << DescribeError(status);
}

void ExpectRemoteError(const absl::Status& status, absl::string_view type,
                       const v1::ActorId& source) {
  EXPECT_FALSE(status.ok());
  const v1::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION) << DescribeError(status);
  EXPECT_EQ(info.type(), type) << DescribeError(status);
  EXPECT_EQ(info.source().uuid(), source.uuid()) << DescribeError(status);
}

Value SimpleArgs(int64_t data, bool block_forever, const std::string& tag) {
  return Value::Object({{"data", Value::Int(data)},
                        {"block_forever", Value::Bool(block_forever)},
                        {"tag", Value::String(tag)}});
}

Value Tagged(const std::string& tag) {
  return Value::Object({{"tag", Value::String(tag)}});
}

ContextSemanticsTest::ContextSemanticsTest() = default;
ContextSemanticsTest::~ContextSemanticsTest() = default;

void ContextSemanticsTest::SetUp() {
  watchdog_ = std::make_unique<Watchdog>(kTestDeadline);
  runtime_ = std::make_unique<ActorCore>(Identity("opener"), &functions_);
  runtime_->SetToken(TestTreeToken());
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      runtime_.get(), *Address::Parse("127.0.0.1:0"), [](const auto&) {},
      nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  callee_ = StartActor("callee");
  ASSERT_NE(callee_, nullptr);
  callee_id_ = IdOf(*callee_);
  portal_ = std::make_unique<Portal>(runtime_.get(), callee_->address());
}

void ContextSemanticsTest::TearDown() {
  portal_.reset();
  for (std::unique_ptr<ActorProcess>& child : children_) {
    const pid_t pid = child->pid();
    child.reset();
    EXPECT_TRUE(ProcessGone(pid)) << "child " << pid << " outlived its test";
  }
  if (server_ != nullptr) server_->Shutdown(absl::Milliseconds(100));
  server_.reset();
  runtime_.reset();
  watchdog_.reset();
}

ActorProcess* ContextSemanticsTest::StartActor(const std::string& name) {
  std::vector<std::string> args = {"--name=" + name};
  // Later actors join the callee's registrar: call_peer dials only actors
  // registered there.
  if (callee_ != nullptr) {
    args.push_back("--registry=" + callee_->address().ToString());
  }
  absl::StatusOr<std::unique_ptr<ActorProcess>> child = ActorProcess::Start(
      RunfilePath("tests/contexts/context_test_actor"), std::move(args));
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return nullptr;
  children_.push_back(*std::move(child));
  return children_.back().get();
}

v1::ActorId ContextSemanticsTest::IdOf(const ActorProcess& actor) {
  absl::StatusOr<v1::ActorInfo> info =
      ActorClient::Dial(actor.address(), TestTreeToken()).Info(kWait);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? info->id() : v1::ActorId();
}

ContextSemanticsTest::TaskState ContextSemanticsTest::AwaitTaskState(
    const std::string& tag, const std::string& state) {
  absl::StatusOr<Value> answer = portal_->Run(
      "task_state",
      Value::Object(
          {{"tag", Value::String(tag)},
           {"state", Value::String(state)},
           {"timeout_ms", Value::Int(absl::ToInt64Milliseconds(kWait))}}));
  EXPECT_TRUE(answer.ok()) << DescribeError(answer.status());
  if (!answer.ok()) return {};
  TaskState result;
  result.state = answer->Field("state")->AsString().value_or("");
  result.canceller = answer->Field("canceller")->AsString().value_or("");
  return result;
}

}  // namespace tether::context_semantics
