// Actor nurseries across real processes, after tractor's
// tests/test_cancellation.py and tests/test_spawning.py: remote errors keep
// their boxed type, several failures come back as one error group, and a
// nested tree of failures as groups of groups. The fixture is in
// tests/trees/nursery_test_fixture.h.

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "tests/trees/nursery_test_fixture.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/v1/error.pb.h"
#include "tether/value.h"

namespace tether::nursery_test {
namespace {

// --- Functions the children of these tests run ---

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

// {"breadth": B, "depth": D, "gate": root address}: a nursery of B
// children; with D > 1 each runs spawn_tree with depth D - 1, with D == 1
// each is a gated errorer. Children are named "<self>.<i>" and
// "<self>.err<i>". Returns the nursery's error.
absl::StatusOr<Value> SpawnTree(const Value& args) {
  ActorCore* self = ActorCore::Current();
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
}  // namespace
}  // namespace tether::nursery_test
