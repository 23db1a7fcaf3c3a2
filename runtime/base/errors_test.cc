#include "tether/errors.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "runtime/base/runtime_errors.h"

namespace tether {
namespace {

v1::ActorId Actor(const std::string& name, const std::string& uuid) {
  v1::ActorId id;
  id.set_name(name);
  id.set_uuid(uuid);
  return id;
}

v1::ActorId Root() {
  return Actor("root", "0b7d44e2-0000-4000-8000-000000000001");
}
v1::ActorId Child() {
  return Actor("child", "3f2a9c1e-0000-4000-8000-000000000002");
}
v1::ActorId Grandchild() {
  return Actor("grandchild", "9c41d0aa-0000-4000-8000-000000000003");
}

std::vector<std::string> RelayNames(const v1::ErrorInfo& info) {
  std::vector<std::string> names;
  for (const v1::ActorId& hop : info.relay_path()) names.push_back(hop.name());
  return names;
}

struct CustomError : std::runtime_error {
  CustomError() : std::runtime_error("custom") {}
};

TEST(ErrorsTest, MakeErrorMapsEveryKindToItsCode) {
  const std::vector<std::pair<v1::ErrorKind, absl::StatusCode>> cases = {
      {v1::ERROR_KIND_CONTEXT_CANCELLED, absl::StatusCode::kCancelled},
      {v1::ERROR_KIND_STREAM_OVERRUN, absl::StatusCode::kResourceExhausted},
      {v1::ERROR_KIND_PROTOCOL, absl::StatusCode::kInvalidArgument},
      {v1::ERROR_KIND_BAD_ARGUMENT, absl::StatusCode::kInvalidArgument},
      {v1::ERROR_KIND_NO_SUCH_FUNCTION, absl::StatusCode::kNotFound},
      {v1::ERROR_KIND_APPLICATION, absl::StatusCode::kAborted},
      {v1::ERROR_KIND_GROUP, absl::StatusCode::kAborted},
      {v1::ERROR_KIND_TRANSPORT_CLOSED, absl::StatusCode::kUnavailable},
      {v1::ERROR_KIND_ACTOR_FAILURE, absl::StatusCode::kInternal},
      {v1::ERROR_KIND_UNSPECIFIED, absl::StatusCode::kUnknown},
  };
  for (const auto& [kind, code] : cases) {
    v1::ErrorInfo info;
    info.set_kind(kind);
    info.set_message("m");
    EXPECT_EQ(MakeError(info).code(), code) << v1::ErrorKind_Name(kind);
  }
}

TEST(ErrorsTest, ErrorInfoRoundTripsThroughTheStatus) {
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_PROTOCOL);
  info.set_type("tether.ProtocolError");
  info.set_message("Yield before Started");
  *info.mutable_source() = Child();
  info.set_context_id("ctx-7");
  const absl::Status status = MakeError(info);
  EXPECT_EQ(status.message(), "Yield before Started");
  const std::optional<v1::ErrorInfo> back = GetErrorInfo(status);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->SerializeAsString(), info.SerializeAsString());
}

TEST(ErrorsTest, ApplicationMessageIsPrefixedWithType) {
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_APPLICATION);
  info.set_type("ValueError");
  info.set_message("bad");
  EXPECT_EQ(MakeError(info).message(), "ValueError: bad");
}

TEST(ErrorsTest, GetErrorInfoOfPlainOrMalformedStatusIsEmpty) {
  EXPECT_FALSE(GetErrorInfo(absl::OkStatus()).has_value());
  EXPECT_FALSE(GetErrorInfo(absl::InternalError("x")).has_value());
  absl::Status malformed = absl::AbortedError("x");
  malformed.SetPayload(kErrorInfoTypeUrl, absl::Cord("\xff\xff"));
  EXPECT_FALSE(GetErrorInfo(malformed).has_value());
  EXPECT_FALSE(IsProtocolError(malformed));
}

TEST(ErrorsTest, ContextCancelledCarriesCanceller) {
  const absl::Status status =
      ContextCancelledError(Root(), Child(), "cancelled by opener");
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(status.message(), "cancelled by opener");
  EXPECT_TRUE(IsContextCancelled(status));
  EXPECT_FALSE(IsStreamOverrun(status));
  const v1::ErrorInfo info = *GetErrorInfo(status);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_CONTEXT_CANCELLED);
  EXPECT_EQ(info.type(), "tether.ContextCancelled");
  EXPECT_EQ(info.canceller().uuid(), Root().uuid());
  EXPECT_EQ(info.source().uuid(), Child().uuid());
  EXPECT_EQ(RelayNames(info), std::vector<std::string>{"child"});

  EXPECT_FALSE(GetErrorInfo(ContextCancelledError(v1::ActorId(), Child(), "t"))
                   ->has_canceller());
}

TEST(ErrorsTest, StreamOverrunNamesSenderAndBuffer) {
  const absl::Status status = StreamOverrunError(Child(), Root(), 64);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsStreamOverrun(status));
  EXPECT_EQ(status.message(),
            "receive buffer of 64 values overrun by data from child[3f2a9c1e]");
  const v1::ErrorInfo info = *GetErrorInfo(status);
  EXPECT_EQ(info.type(), "tether.StreamOverrun");
  EXPECT_EQ(info.sender().uuid(), Child().uuid());
  EXPECT_EQ(info.source().uuid(), Root().uuid());
}

TEST(ErrorsTest, OtherRuntimeErrors) {
  const absl::Status protocol = ProtocolError(Root(), "two Started frames");
  EXPECT_EQ(protocol.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsProtocolError(protocol));
  EXPECT_EQ(GetErrorInfo(protocol)->type(), "tether.ProtocolError");

  const absl::Status closed = TransportClosedError("peer went away");
  EXPECT_EQ(closed.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsTransportClosed(closed));
  EXPECT_EQ(GetErrorInfo(closed)->type(), "tether.TransportClosed");
  EXPECT_FALSE(GetErrorInfo(closed)->has_source());
  EXPECT_EQ(GetErrorInfo(closed)->relay_path_size(), 0);

  const absl::Status missing = NoSuchFunctionError(Child(), "compute");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "no function named \"compute\" is registered");
  EXPECT_EQ(GetErrorInfo(missing)->type(), "tether.NoSuchFunction");
  EXPECT_EQ(GetErrorInfo(missing)->function(), "compute");

  const absl::Status bad = BadArgumentError(Child(), "compute", "want 2 args");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "compute: want 2 args");
  EXPECT_EQ(GetErrorInfo(bad)->type(), "tether.BadArgument");
  EXPECT_EQ(GetErrorInfo(bad)->kind(), v1::ERROR_KIND_BAD_ARGUMENT);

  const absl::Status failed = ActorFailureError(Child(), "killed by SIGKILL");
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(GetErrorInfo(failed)->type(), "tether.ActorFailure");
  EXPECT_EQ(GetErrorInfo(failed)->source().name(), "child");
}

TEST(ErrorsTest, IsRemoteErrorComparesSourceUuid) {
  const absl::Status from_child = ProtocolError(Child(), "x");
  EXPECT_TRUE(IsRemoteError(from_child, Root()));
  EXPECT_FALSE(IsRemoteError(from_child, Child()));
  EXPECT_FALSE(IsRemoteError(absl::InternalError("x"), Root()));
  EXPECT_FALSE(IsRemoteError(TransportClosedError("x"), Root()));
}

TEST(ErrorsTest, BoxStatusKeepsErrorInfoAndAppendsRelayer) {
  const absl::Status original = ProtocolError(Grandchild(), "x");
  const v1::ErrorInfo at_child = BoxStatus(original, Child());
  EXPECT_EQ(RelayNames(at_child),
            (std::vector<std::string>{"grandchild", "child"}));
  EXPECT_EQ(at_child.kind(), v1::ERROR_KIND_PROTOCOL);
  EXPECT_EQ(at_child.source().uuid(), Grandchild().uuid());

  const v1::ErrorInfo again = BoxStatus(MakeError(at_child), Child());
  EXPECT_EQ(RelayNames(again),
            (std::vector<std::string>{"grandchild", "child"}));

  const v1::ErrorInfo at_root = BoxStatus(MakeError(again), Root());
  EXPECT_EQ(RelayNames(at_root),
            (std::vector<std::string>{"grandchild", "child", "root"}));
}

TEST(ErrorsTest, BoxStatusBoxesPlainStatusAsApplication) {
  const v1::ErrorInfo info =
      BoxStatus(absl::FailedPreconditionError("disk full"), Child());
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION);
  EXPECT_EQ(info.type(), "absl::StatusCode::kFailedPrecondition");
  EXPECT_EQ(info.message(), "disk full");
  EXPECT_EQ(info.source().uuid(), Child().uuid());
  EXPECT_EQ(RelayNames(info), std::vector<std::string>{"child"});
  const absl::Status status = MakeError(info);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(status.message(),
            "absl::StatusCode::kFailedPrecondition: disk full");

  EXPECT_EQ(
      BoxStatus(absl::Status(static_cast<absl::StatusCode>(42), "x"), Child())
          .type(),
      "absl::StatusCode(42)");
}

TEST(ErrorsDeathTest, BoxStatusOfOkAborts) {
  EXPECT_DEATH(BoxStatus(absl::OkStatus(), Child()), "OK status");
}

TEST(ErrorsTest, WithRelayAppendsOnlyNewHops) {
  v1::ErrorInfo info;
  info = WithRelay(info, Child());
  info = WithRelay(info, Child());
  info = WithRelay(info, Root());
  EXPECT_EQ(RelayNames(info), (std::vector<std::string>{"child", "root"}));
}

TEST(ErrorsTest, BoxExceptionDemanglesDynamicType) {
  try {
    throw std::runtime_error("boom");
  } catch (const std::exception& e) {
    const v1::ErrorInfo info = BoxException(e, Child());
    EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION);
    EXPECT_EQ(info.type(), "std::runtime_error");
    EXPECT_EQ(info.message(), "boom");
    EXPECT_EQ(info.source().uuid(), Child().uuid());
    EXPECT_EQ(MakeError(info).message(), "std::runtime_error: boom");
  }
  try {
    throw CustomError();
  } catch (const std::exception& e) {
    EXPECT_EQ(BoxException(e, Child()).type(),
              "tether::(anonymous namespace)::CustomError");
  }
}

TEST(ErrorsTest, BoxUnknownExceptionNamesTheThrownType) {
  try {
    throw 42;
  } catch (...) {
    const v1::ErrorInfo info = BoxUnknownException(Child());
    EXPECT_EQ(info.kind(), v1::ERROR_KIND_APPLICATION);
    EXPECT_EQ(info.type(), "int");
    EXPECT_EQ(info.source().uuid(), Child().uuid());
  }
  EXPECT_EQ(BoxUnknownException(Child()).type(), "unknown exception");
}

TEST(ErrorsTest, ErrorGroupOfOneIsTheErrorItself) {
  const absl::Status only = ProtocolError(Child(), "x");
  EXPECT_EQ(ErrorGroup({absl::OkStatus(), only}, Root()), only);
  EXPECT_TRUE(ErrorGroup({}, Root()).ok());
  EXPECT_TRUE(ErrorGroup({absl::OkStatus()}, Root()).ok());
}

TEST(ErrorsTest, ErrorGroupOfThreeListsEveryMember) {
  const absl::Status group = ErrorGroup(
      {ContextCancelledError(Root(), Child(), "cancelled"),
       absl::InternalError("plain"), ProtocolError(Grandchild(), "bad frame")},
      Root());
  EXPECT_EQ(group.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(group.message(), "3 errors: cancelled; plain; bad frame");
  const v1::ErrorInfo info = *GetErrorInfo(group);
  EXPECT_EQ(info.kind(), v1::ERROR_KIND_GROUP);
  EXPECT_EQ(info.type(), "tether.ErrorGroup");
  EXPECT_EQ(info.source().uuid(), Root().uuid());
  ASSERT_EQ(info.errors_size(), 3);
  EXPECT_EQ(info.errors(0).kind(), v1::ERROR_KIND_CONTEXT_CANCELLED);
  EXPECT_EQ(info.errors(1).type(), "absl::StatusCode::kInternal");
  EXPECT_EQ(info.errors(1).source().uuid(), Root().uuid());
  EXPECT_EQ(info.errors(2).type(), "tether.ProtocolError");
  EXPECT_EQ(RelayNames(info.errors(2)), std::vector<std::string>{"grandchild"});
}

TEST(ErrorsTest, DescribePlainAndOkStatus) {
  EXPECT_EQ(DescribeError(absl::OkStatus()), "OK");
  EXPECT_EQ(DescribeError(absl::NotFoundError("no such actor")),
            "absl::StatusCode::kNotFound: no such actor");
}

TEST(ErrorsTest, DescribeShowsSourceRelayPathAndCanceller) {
  v1::ErrorInfo info = *GetErrorInfo(
      ContextCancelledError(Root(), Grandchild(), "cancelled by opener"));
  info = WithRelay(info, Child());
  info.set_function("compute");
  info.set_trace("frame 1\nframe 2\n");
  EXPECT_EQ(DescribeError(MakeError(info)),
            "tether.ContextCancelled: cancelled by opener\n"
            "  source: grandchild[9c41d0aa]\n"
            "  relay path: child[3f2a9c1e] <- grandchild[9c41d0aa]\n"
            "  function: compute\n"
            "  canceller: root[0b7d44e2]\n"
            "  trace:\n"
            "    frame 1\n"
            "    frame 2");
}

TEST(ErrorsTest, DescribeMarksMissingActorNames) {
  EXPECT_EQ(DescribeError(ProtocolError(Actor("", Child().uuid()), "x")),
            "tether.ProtocolError: x\n"
            "  source: ?[3f2a9c1e]\n"
            "  relay path: ?[3f2a9c1e]");
  EXPECT_EQ(DescribeError(ActorFailureError(Actor("solo", ""), "exit 3")),
            "tether.ActorFailure: exit 3\n"
            "  source: solo\n"
            "  relay path: solo");
}

TEST(ErrorsTest, DescribeIndentsGroupMembers) {
  const absl::Status overrun = StreamOverrunError(Child(), Root(), 2);
  const absl::Status group = ErrorGroup(
      {MakeError(BoxException(std::runtime_error("boom"), Child())), overrun},
      Root());
  EXPECT_EQ(DescribeError(group),
            "tether.ErrorGroup: 2 errors: std::runtime_error: boom; receive "
            "buffer of 2 values overrun by data from child[3f2a9c1e]\n"
            "  source: root[0b7d44e2]\n"
            "  relay path: root[0b7d44e2]\n"
            "  errors (2):\n"
            "    [1] std::runtime_error: boom\n"
            "        source: child[3f2a9c1e]\n"
            "        relay path: child[3f2a9c1e]\n"
            "    [2] tether.StreamOverrun: receive buffer of 2 values overrun "
            "by data from child[3f2a9c1e]\n"
            "        source: root[0b7d44e2]\n"
            "        relay path: root[0b7d44e2]\n"
            "        sender: child[3f2a9c1e]");
}

}  // namespace
}  // namespace tether
