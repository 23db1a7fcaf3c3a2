#include "tests/contexts/flow_test_fixture.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/actor_client.h"
#include "runtime/base/actor_identity.h"
#include "tests/support/test_token.h"
#include "tether/errors.h"
#include "tether/task.h"
#include "tether/v1/actor.pb.h"

namespace tether {
namespace {

// Pause between two polls of a remote condition. Polling is how a test
// observes another process; the deadline, not this pause, bounds the wait.
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

}  // namespace

void FlowTestFixture::SetUp() {
  absl::StatusOr<std::unique_ptr<ActorProcess>> callee = ActorProcess::Start(
      RunfilePath("tests/contexts/flow_test_actor"), {"--name=flow-callee"});
  ASSERT_TRUE(callee.ok()) << callee.status();
  callee_ = *std::move(callee);
  callee_pid_ = callee_->pid();

  absl::StatusOr<v1::ActorInfo> info =
      ActorClient::Dial(callee_->address(), TestTreeToken())
          .Info(absl::Seconds(5));
  ASSERT_TRUE(info.ok()) << info.status();
  callee_id_ = info->id();

  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create("flow-opener");
  ASSERT_TRUE(identity.ok()) << identity.status();
  opener_ = std::make_unique<ActorCore>(*std::move(identity));
  opener_->SetToken(TestTreeToken());
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      opener_.get(), *Address::Parse("127.0.0.1:0"), [](const v1::ActorId&) {},
      nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  opener_server_ = *std::move(server);
  portal_ = std::make_unique<Portal>(opener_.get(), callee_->address());
}

void FlowTestFixture::TearDown() {
  portal_.reset();
  if (callee_ != nullptr) {
    callee_->Signal(SIGTERM);
    const absl::StatusOr<int> exit = callee_->WaitExit(absl::Seconds(10));
    EXPECT_TRUE(exit.ok()) << "the callee did not exit on SIGTERM: "
                           << exit.status();
    if (exit.ok()) {
      EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0)
          << "wait status " << *exit;
    }
    callee_.reset();  // Kills and reaps whatever is left.
  }
  if (callee_pid_ > 0) {
    errno = 0;
    EXPECT_EQ(kill(-callee_pid_, 0), -1)
        << "a process of the callee's group outlived the test";
    EXPECT_EQ(errno, ESRCH);
  }
  if (opener_server_ != nullptr) opener_server_->Shutdown(absl::Seconds(1));
  opener_server_.reset();
  opener_.reset();
}

absl::StatusOr<Value> FlowTestFixture::Probe(const std::string& token) {
  return portal_->Run("probe",
                      Value::Object({{"token", Value::String(token)}}));
}

absl::StatusOr<Value> FlowTestFixture::AwaitProbe(
    const std::string& token, const std::function<bool(const Value&)>& done,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<Value> record = Probe(token);
    if (!record.ok()) return record.status();
    if (done(*record)) return record;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("probe of ", token, " still ", record->ToJson(),
                       " after ", absl::FormatDuration(timeout)));
    }
    const absl::Status paused = Sleep(kPollInterval);
    if (!paused.ok()) return paused;
  }
}

absl::Status FlowTestFixture::AwaitCalleeContextGone(
    const std::string& context_id, absl::Duration timeout) {
  const ActorClient client =
      ActorClient::Dial(callee_->address(), TestTreeToken());
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<v1::ActorInfo> info = client.Info(absl::Seconds(5));
    if (!info.ok()) return info.status();
    bool listed = false;
    for (const v1::ContextInfo& context : info->contexts()) {
      listed = listed || (context.context_id() == context_id &&
                          context.side() == v1::ContextInfo::SIDE_CALLEE);
    }
    if (!listed) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("the callee still lists context ", context_id, " after ",
                       absl::FormatDuration(timeout)));
    }
    const absl::Status paused = Sleep(kPollInterval);
    if (!paused.ok()) return paused;
  }
}

bool BoolField(const Value& record, absl::string_view name) {
  absl::StatusOr<Value> field = record.Field(name);
  return field.ok() && field->AsBool().value_or(false);
}

int64_t IntField(const Value& record, absl::string_view name) {
  absl::StatusOr<Value> field = record.Field(name);
  return field.ok() ? field->AsInt().value_or(0) : 0;
}

std::string StringField(const Value& record, absl::string_view name) {
  absl::StatusOr<Value> field = record.Field(name);
  return field.ok() ? field->AsString().value_or("") : "";
}

bool Ended(const Value& record) { return BoolField(record, "ended"); }

absl::Status WithWatchdog(absl::Duration limit,
                          absl::FunctionRef<absl::Status()> body) {
  CancelScope scope;
  const CancelHandle handle = scope.handle();
  absl::Notification done;
  std::thread watchdog([&done, handle, limit] {
    if (!done.WaitForNotificationWithTimeout(limit)) {
      handle.Cancel(absl::DeadlineExceededError(absl::StrCat(
          "watchdog: still blocked after ", absl::FormatDuration(limit))));
    }
  });
  const absl::Status status = body();
  done.Notify();
  watchdog.join();
  return status;
}

absl::Status AwaitCancellation(absl::Duration limit) {
  const absl::Status slept = Sleep(limit);
  if (!slept.ok()) return slept;
  return absl::DeadlineExceededError(
      absl::StrCat("not cancelled within ", absl::FormatDuration(limit)));
}

v1::ErrorInfo InfoOf(const absl::Status& status) {
  return GetErrorInfo(status).value_or(v1::ErrorInfo());
}

bool PathHas(const google::protobuf::RepeatedPtrField<v1::ActorId>& path,
             const v1::ActorId& actor) {
  for (const v1::ActorId& hop : path) {
    if (hop.uuid() == actor.uuid()) return true;
  }
  return false;
}

}  // namespace tether
