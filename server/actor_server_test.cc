#include "server/actor_server.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "rpc/call_queue.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"
#include "runtime/base/uuid.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

ActorIdentity Identity(const std::string& name) {
  absl::StatusOr<ActorIdentity> identity = ActorIdentity::Create(name);
  EXPECT_TRUE(identity.ok()) << identity.status();
  return *identity;
}

// A stub whose calls carry `token`.
std::unique_ptr<v1::Actor::Stub> Dial(const Address& address,
                                      const TreeToken& token) {
  return v1::Actor::NewStub(DialTree(address.ToString(), token));
}

absl::StatusOr<v1::ActorInfo> Info(v1::Actor::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  v1::ActorInfo info;
  const grpc::Status status = stub.Info(&context, v1::InfoRequest(), &info);
  if (!status.ok()) return ToAbslStatus(status);
  return info;
}

void IgnoreCancel(const v1::ActorId&) {}

TEST(ActorServerTest, InfoDescribesTheActorOverTcp) {
  const ActorIdentity identity = Identity("info-tcp");
  ActorCore runtime(identity);
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  const Address bound = (*server)->address();
  EXPECT_NE(bound.port(), 0);

  absl::StatusOr<v1::ActorInfo> info = Info(*Dial(bound, runtime.token()));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->id().name(), "info-tcp");
  EXPECT_EQ(info->id().uuid(), identity.uuid);
  EXPECT_TRUE(IsUuid(info->id().uuid()));
  EXPECT_EQ(info->pid(), getpid());
  ASSERT_EQ(info->addresses_size(), 1);
  EXPECT_EQ(info->addresses(0), bound.ToString());
  EXPECT_GT(info->started_at().seconds(), 0);
  EXPECT_GE(info->uptime().seconds(), 0);
}

TEST(ActorServerTest, ServesOnUnixSocket) {
  char pattern[] = "/tmp/actor_server_test.XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const Address listen = *Address::Parse("unix:" + dir + "/a.sock");
  {
    ActorCore runtime(Identity("info-unix"));
    absl::StatusOr<std::unique_ptr<ActorServer>> server =
        ActorServer::Start(&runtime, listen, IgnoreCancel, nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_EQ((*server)->address(), listen);
    absl::StatusOr<v1::ActorInfo> info = Info(*Dial(listen, runtime.token()));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->addresses(0), listen.ToString());
  }
  unlink(listen.path().c_str());
  rmdir(dir.c_str());
}

TEST(ActorServerTest, CancelAnswersThenReportsTheRequester) {
  absl::Notification cancelled;
  v1::ActorId requester_seen;
  const ActorIdentity identity = Identity("cancel-me");
  ActorCore runtime(identity);
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"),
      [&](const v1::ActorId& requester) {
        requester_seen = requester;
        cancelled.Notify();
      },
      nullptr);
  ASSERT_TRUE(server.ok()) << server.status();

  v1::CancelActorRequest request;
  request.mutable_requester()->set_name("boss");
  request.mutable_requester()->set_uuid(NewUuid());
  v1::CancelActorResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  const grpc::Status status = Dial((*server)->address(), runtime.token())
                                  ->Cancel(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.actor().uuid(), identity.uuid);
  ASSERT_TRUE(cancelled.WaitForNotificationWithTimeout(kCallDeadline));
  EXPECT_EQ(requester_seen.uuid(), request.requester().uuid());
  EXPECT_EQ(requester_seen.name(), "boss");
}

TEST(ActorServerTest, SecondServerOnSamePortFailsNamingTheAddress) {
  ActorCore first_runtime(Identity("first"));
  ActorCore second_runtime(Identity("second"));
  absl::StatusOr<std::unique_ptr<ActorServer>> first = ActorServer::Start(
      &first_runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<ActorServer>> second = ActorServer::Start(
      &second_runtime, (*first)->address(), IgnoreCancel, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find((*first)->address().ToString()),
            absl::string_view::npos)
      << second.status();
  EXPECT_NE(second.status().message().find("already in use"),
            absl::string_view::npos)
      << second.status();
}

TEST(ActorServerTest, ShutdownStopsServingAndIsIdempotent) {
  ActorCore runtime(Identity("stopper"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Dial((*server)->address(), runtime.token());
  ASSERT_TRUE(Info(*stub).ok());
  (*server)->Shutdown(absl::Milliseconds(100));
  (*server)->Shutdown(absl::Milliseconds(100));

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  v1::ActorInfo info;
  EXPECT_FALSE(stub->Info(&context, v1::InfoRequest(), &info).ok());
}

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

absl::StatusOr<HealthCheckResponse> Check(Health::Stub& stub,
                                          const std::string& service) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub.Check(&context, request, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

TEST(ActorServerTest, HealthCheckAnswersForTheServerAsAWhole) {
  ActorCore runtime(Identity("healthy"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Health::NewStub(grpc::CreateChannel(
      (*server)->address().ToString(), grpc::InsecureChannelCredentials()));

  absl::StatusOr<HealthCheckResponse> whole = Check(*stub, "");
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->status(), HealthCheckResponse::SERVING);
  absl::StatusOr<HealthCheckResponse> unknown = Check(*stub, "no.Such");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound)
      << unknown.status();
}

TEST(ActorServerTest, HealthWatchSeesServingThenNotServingAtShutdown) {
  ActorCore runtime(Identity("watched"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Health::NewStub(
      DialTree((*server)->address().ToString(), runtime.token()));

  grpc::ClientContext unknown_context;
  unknown_context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  HealthCheckRequest unknown_request;
  unknown_request.set_service("no.Such");
  auto unknown = stub->Watch(&unknown_context, unknown_request);
  HealthCheckResponse response;
  ASSERT_TRUE(unknown->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  unknown_context.TryCancel();

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  auto watch = stub->Watch(&context, HealthCheckRequest());
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  // The grace period outlasts the test: the shutdown ends because this
  // client, having seen NOT_SERVING, cancels its stream.
  std::thread shutdown([&] { (*server)->Shutdown(kCallDeadline); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();
  shutdown.join();
}

// Calls keep arriving while the server shuts down: the acceptor must stop
// asking for more calls without racing the shutdown of its queue, which
// gRPC answers by aborting the process.
TEST(ActorServerTest, ShutdownWhileContextCallsArriveEndsCleanly) {
  constexpr int kRounds = 200;
  constexpr int kCallsBeforeShutdown = 5;
  for (int round = 0; round < kRounds; ++round) {
    ActorCore runtime(Identity("busy"));
    absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
        &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    absl::Mutex mu;
    int finished = 0;
    std::atomic<bool> done{false};
    std::thread caller([&, stub = Dial((*server)->address(), runtime.token())] {
      while (!done.load()) {
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
        auto stream = stub->Context(&context);
        stream->WritesDone();
        v1::Frame refusal;
        while (stream->Read(&refusal)) {
        }
        stream->Finish().ok();
        absl::MutexLock lock(&mu);
        ++finished;
      }
    });
    {
      absl::MutexLock lock(&mu);
      auto enough = [&finished] { return finished >= kCallsBeforeShutdown; };
      EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&enough), kCallDeadline))
          << "round " << round << ": only " << finished << " calls ended";
    }
    (*server)->Shutdown(absl::ZeroDuration());
    done.store(true);
    caller.join();
  }
}

// A task that handles events steps the acceptor aside (it stops blocking on
// its queue); calls must still be accepted then, and once the task stops,
// when nobody else polls.
TEST(ActorServerTest, ServesCallsWhileTasksHandleEventsAndAfter) {
  constexpr int kCalls = 100;
  ActorCore runtime(Identity("beside-busy-task"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<v1::Actor::Stub> stub =
      Dial((*server)->address(), runtime.token());

  std::atomic<bool> stop{false};
  std::atomic<int> task_events{0};
  std::thread busy_task([&] {
    CallQueue queue;
    while (!stop.load()) {
      queue.Kick();
      if (queue.PollOnce(absl::Now() + kCallDeadline)) ++task_events;
    }
  });
  for (int i = 0; i < kCalls; ++i) {
    absl::StatusOr<v1::ActorInfo> info = Info(*stub);
    ASSERT_TRUE(info.ok()) << "call " << i << ": " << info.status();
  }
  stop.store(true);
  busy_task.join();
  EXPECT_GT(task_events.load(), 0);

  for (int i = 0; i < kCalls; ++i) {
    absl::StatusOr<v1::ActorInfo> info = Info(*stub);
    ASSERT_TRUE(info.ok()) << "call " << i << " after: " << info.status();
  }
}

using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

// The services server reflection lists over `channel`, or its status.
absl::StatusOr<std::vector<std::string>> ListedServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  auto stream = stub->ServerReflectionInfo(&context);
  ServerReflectionRequest request;
  request.set_list_services("*");
  stream->Write(request);
  stream->WritesDone();
  std::vector<std::string> names;
  ServerReflectionResponse response;
  while (stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      names.push_back(service.name());
    }
  }
  const grpc::Status status = stream->Finish();
  if (!status.ok()) return ToAbslStatus(status);
  return names;
}

// Reflection lists exactly what the server serves: a root outside debug
// mode hosts the registrar but no debug lock; a root in debug mode both.
// Without the token it answers nothing.
TEST(ActorServerTest, ReflectionListsWhatTheServerServesToTheTreeOnly) {
  for (const bool debug_mode : {false, true}) {
    ActorCore runtime(Identity("reflected"));
    runtime.SetDebugMode(debug_mode);
    absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
        &runtime, *Address::Parse("127.0.0.1:0"), IgnoreCancel, nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    const std::string target = (*server)->address().ToString();
    absl::StatusOr<std::vector<std::string>> listed =
        ListedServices(DialTree(target, runtime.token()));
    ASSERT_TRUE(listed.ok()) << listed.status();
    std::vector<std::string> expected = {
        "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
        "tether.v1.Actor", "tether.v1.Registrar"};
    if (debug_mode) {
      expected.insert(expected.begin() + 3, "tether.v1.Debug");
    }
    EXPECT_EQ(*listed, expected);
    absl::StatusOr<std::vector<std::string>> outsider = ListedServices(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    EXPECT_TRUE(absl::IsUnauthenticated(outsider.status()))
        << outsider.status();
  }
}

// Callers without the tree's token (none, or another tree's) get
// UNAUTHENTICATED from every Actor method, and nothing happens: no cancel,
// no context served. Health's Check stays open to them; its Watch, which
// holds a stream, does not.
TEST(ActorServerTest, CallsWithoutTheTreeTokenAreRefused) {
  std::atomic<int> cancels{0};
  ActorCore runtime(Identity("guarded"));
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      &runtime, *Address::Parse("127.0.0.1:0"),
      [&cancels](const v1::ActorId&) { ++cancels; }, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string target = (*server)->address().ToString();
  std::vector<std::shared_ptr<grpc::Channel>> outsiders = {
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()),
      DialTree(target, TreeToken::Generate())};
  for (const std::shared_ptr<grpc::Channel>& channel : outsiders) {
    std::unique_ptr<v1::Actor::Stub> actor = v1::Actor::NewStub(channel);
    std::vector<grpc::Status> statuses;
    {
      grpc::ClientContext context;
      v1::ActorInfo info;
      statuses.push_back(actor->Info(&context, v1::InfoRequest(), &info));
    }
    {
      grpc::ClientContext context;
      v1::CancelActorRequest request;
      request.mutable_requester()->set_name("mallory");
      v1::CancelActorResponse response;
      statuses.push_back(actor->Cancel(&context, request, &response));
    }
    {
      grpc::ClientContext context;
      v1::SignalRequest request;
      request.set_context_id("any");
      request.mutable_cancel();
      v1::SignalResponse response;
      statuses.push_back(actor->Signal(&context, request, &response));
    }
    {
      grpc::ClientContext context;
      auto stream = actor->Context(&context);
      v1::Frame frame;
      EXPECT_FALSE(stream->Read(&frame));
      statuses.push_back(stream->Finish());
    }
    {
      auto health = Health::NewStub(channel);
      grpc::ClientContext context;
      auto watch = health->Watch(&context, HealthCheckRequest());
      HealthCheckResponse response;
      EXPECT_FALSE(watch->Read(&response));
      statuses.push_back(watch->Finish());
    }
    for (const grpc::Status& status : statuses) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << status.error_message();
    }
    absl::StatusOr<HealthCheckResponse> check =
        Check(*Health::NewStub(channel), "");
    ASSERT_TRUE(check.ok()) << check.status();
    EXPECT_EQ(check->status(), HealthCheckResponse::SERVING);
  }
  absl::StatusOr<v1::ActorInfo> info =
      Info(*Dial((*server)->address(), runtime.token()));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->contexts_served(), 0u);
  EXPECT_EQ(cancels.load(), 0);
}

}  // namespace
}  // namespace tether
