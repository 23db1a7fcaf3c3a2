// File: tests/contexts/flow_test_fixture.h
//
// Shared set-up of the overrun, backpressure and protocol-violation tests:
// a callee actor process (tests/flow_test_actor) and, in the test process,
// an opener actor that serves Actor too, so the callee can reach it out of
// band (Actor/Signal) the way it reaches any actor. TearDown stops the
// callee with SIGTERM and asserts that it exited cleanly and that nothing
// of its process group is left.
//
//   TEST_F(FlowTest, Something) {
//     absl::Status s = portal().OpenContext("park", Args("t1"), block);
//     absl::StatusOr<Value> record =
//         AwaitProbe("t1", Ended, absl::Seconds(10));
//   }
//
// Not thread-safe beyond what Portal is: one test thread drives a fixture.

#ifndef TETHER_TESTS_CONTEXTS_FLOW_TEST_FIXTURE_H_
#define TETHER_TESTS_CONTEXTS_FLOW_TEST_FIXTURE_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "server/actor_server.h"
#include "tests/support/actor_process.h"
#include "tether/portal.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether {

class FlowTestFixture : public testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  ActorCore& opener() { return *opener_; }
  Portal& portal() { return *portal_; }
  const Address& callee_address() const { return callee_->address(); }
  // The callee actor's id, from Actor/Info.
  const v1::ActorId& callee_id() const { return callee_id_; }

  // The callee's board record of `token` (see
  // tests/contexts/flow_test_functions.cc).
  absl::StatusOr<Value> Probe(const std::string& token);

  // Polls Probe(token) until `done` holds or `timeout` passes; returns the
  // last record, or DeadlineExceeded naming it.
  absl::StatusOr<Value> AwaitProbe(
      const std::string& token, const std::function<bool(const Value&)>& done,
      absl::Duration timeout);

  // Polls the callee's Actor/Info until it lists no callee-side context
  // `context_id`.
  absl::Status AwaitCalleeContextGone(const std::string& context_id,
                                      absl::Duration timeout);

 private:
  std::unique_ptr<ActorProcess> callee_;
  pid_t callee_pid_ = 0;
  v1::ActorId callee_id_;
  std::unique_ptr<ActorCore> opener_;
  std::unique_ptr<ActorServer> opener_server_;
  std::unique_ptr<Portal> portal_;
};

// Record fields, read from a probe result; false/0/"" when absent.
bool BoolField(const Value& record, absl::string_view name);
int64_t IntField(const Value& record, absl::string_view name);
std::string StringField(const Value& record, absl::string_view name);

// Whether the traced function has returned.
bool Ended(const Value& record);

// Runs `body` in a cancel scope that a watchdog cancels with
// DeadlineExceeded("watchdog ...") once `limit` has passed, so a blocking
// runtime call that never returns on its own fails the test instead of
// hanging it.
absl::Status WithWatchdog(absl::Duration limit,
                          absl::FunctionRef<absl::Status()> body);

// Blocks the calling task until it is cancelled and returns the reason;
// DeadlineExceeded when nothing cancelled it within `limit`.
absl::Status AwaitCancellation(absl::Duration limit);

// The ErrorInfo of `status`, or a default instance (kind UNSPECIFIED).
v1::ErrorInfo InfoOf(const absl::Status& status);

// Whether `path` holds an actor with `actor`'s uuid.
bool PathHas(const google::protobuf::RepeatedPtrField<v1::ActorId>& path,
             const v1::ActorId& actor);

}  // namespace tether

#endif  // TETHER_TESTS_CONTEXTS_FLOW_TEST_FIXTURE_H_
