// File: tests/contexts/context_semantics_fixture.h
//
// Shared set-up of the multi-process context semantics tests
// (tests/context_*_test.cc), after tractor's
// test_context_stream_semantics.py, test_2way.py, test_remote_exc_relay.py
// and test_rpc.py: the test process is the opener (an actor with its own
// server, so it has an address for out-of-band signals), and the callee is
// a child process running tests/context_test_actor.
//
// Hang guards: every wait has a deadline; a per-test watchdog cancels the
// test thread's scope (so every runtime call returns) when a test runs too
// long, and aborts if even that does not end it; Bazel's timeout is last.
// Every child is killed and reaped when its test ends, which TearDown
// checks.
//
//   TEST_F(ContextSemanticsTest, Something) {
//     absl::StatusOr<Value> result;
//     const absl::Status status = portal_->OpenContext(
//         "simple", SimpleArgs(10), [&](Context& ctx, const Value&) {
//           result = ctx.Result(Deadline());
//           return absl::OkStatus();
//         });
//     ExpectRemoteError(status, "ValueError", callee_id_);
//   }
//
// Not thread-safe: one test thread drives a fixture.

#ifndef TETHER_TESTS_CONTEXTS_CONTEXT_SEMANTICS_FIXTURE_H_
#define TETHER_TESTS_CONTEXTS_CONTEXT_SEMANTICS_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "server/actor_server.h"
#include "tests/support/actor_process.h"
#include "tether/function_registry.h"
#include "tether/portal.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether::context_semantics {

// Bound of every single wait in a test.
inline constexpr absl::Duration kWait = absl::Seconds(10);

// Now + kWait.
absl::Time Deadline();

// Whether the process `pid` no longer exists (it was reaped).
bool ProcessGone(pid_t pid);

// A new identity named `name` (and a test failure if there is none).
ActorIdentity Identity(const std::string& name);

// The ErrorInfo of a failed status, or an empty one (and a test failure).
v1::ErrorInfo InfoOf(const absl::Status& status);

// A ContextCancelled whose canceller is `canceller`.
void ExpectCancelledBy(const absl::Status& status,
                       const v1::ActorId& canceller);

// A RemoteActorError: an application error of `type` raised in `source`.
void ExpectRemoteError(const absl::Status& status, absl::string_view type,
                       const v1::ActorId& source);

// Arguments of the callee's `simple` and `expect_cancelled` functions.
Value SimpleArgs(int64_t data, bool block_forever = false,
                 const std::string& tag = "");
Value Tagged(const std::string& tag);

// Cancels the test thread's scope at a deadline (defined in the .cc).
class Watchdog;

class ContextSemanticsTest : public testing::Test {
 protected:
  ContextSemanticsTest();
  ~ContextSemanticsTest() override;

  void SetUp() override;
  void TearDown() override;

  // Starts a test actor named `name`; null (and a test failure) if it
  // cannot. Every actor after the callee joins the callee's registrar.
  ActorProcess* StartActor(const std::string& name);

  static v1::ActorId IdOf(const ActorProcess& actor);

  v1::ActorId opener_id() const { return runtime_->id(); }

  // Asks the callee actor how the task tagged `tag` is doing, waiting up to
  // kWait for it to reach `state`.
  struct TaskState {
    std::string state;
    std::string canceller;
  };
  TaskState AwaitTaskState(const std::string& tag, const std::string& state);

  FunctionRegistry functions_;  // The opener serves nothing.
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<ActorCore> runtime_;
  std::unique_ptr<ActorServer> server_;
  std::vector<std::unique_ptr<ActorProcess>> children_;
  ActorProcess* callee_ = nullptr;
  v1::ActorId callee_id_;
  std::unique_ptr<Portal> portal_;
};

}  // namespace tether::context_semantics

#endif  // TETHER_TESTS_CONTEXTS_CONTEXT_SEMANTICS_FIXTURE_H_
