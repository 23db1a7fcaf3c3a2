#include "tests/discovery/discovery_test_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "app/registry_clients.h"
#include "client/actor_client.h"
#include "grpcpp/client_context.h"
#include "rpc/tree_channel.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/uuid.h"
#include "tests/support/process_tree.h"
#include "tests/support/test_token.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/registrar.grpc.pb.h"

namespace tether::discovery_test {
namespace {

// A whole test, hung or not; far above what a healthy run needs.
constexpr absl::Duration kTestLimit = absl::Seconds(120);
// Every descendant must be gone this long after a test body.
constexpr absl::Duration kReapTimeout = absl::Seconds(15);
// Between two looks at the registry or /proc; deadlines bound the waits.

std::string CurrentTestName() {
  const testing::TestInfo* info =
      testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr
             ? "a discovery test"
             : absl::StrCat(info->test_suite_name(), ".", info->name());
}

}  // namespace

// --- Helpers ---

ActorOptions Patient() {
  ActorOptions options;
  options.spawn_timeout = kBootTimeout;
  return options;
}

const v1::RegistryEntry* FindUuid(const std::vector<v1::RegistryEntry>& entries,
                                  const std::string& uuid) {
  for (const v1::RegistryEntry& entry : entries) {
    if (entry.actor().id().uuid() == uuid) return &entry;
  }
  return nullptr;
}

std::string Describe(const std::vector<v1::RegistryEntry>& entries) {
  return absl::StrJoin(
      entries, ", ", [](std::string* out, const v1::RegistryEntry& entry) {
        absl::StrAppend(out, entry.actor().id().name(), "[",
                        entry.actor().id().uuid(), "] at ",
                        absl::StrJoin(entry.actor().addresses(), ","));
      });
}

absl::StatusOr<std::string> UuidAt(const Address& address) {
  TETHER_ASSIGN_OR_RETURN(
      v1::ActorInfo info,
      ActorClient::Dial(address, TestTreeToken()).Info(absl::Seconds(10)));
  return info.id().uuid();
}

v1::RegistryEntry FakeEntry(const std::string& name,
                            const std::string& address) {
  v1::RegistryEntry entry;
  entry.mutable_actor()->mutable_id()->set_name(name);
  entry.mutable_actor()->mutable_id()->set_uuid(NewUuid());
  entry.mutable_actor()->add_addresses(address);
  return entry;
}

grpc::Status RegisterOnce(const std::string& registry_address,
                          v1::RegistryEntry entry) {
  auto registrar =
      v1::Registrar::NewStub(DialTree(registry_address, TestTreeToken()));
  v1::RegisterRequest request;
  entry.clear_registered_at();
  *request.mutable_entry() = std::move(entry);
  v1::RegisterResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRegistryTimeout));
  return registrar->Register(&context, request, &response);
}

RefusingPort::RefusingPort() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
      getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port_ = ntohs(address.sin_port);
  }
}

RefusingPort::~RefusingPort() {
  if (fd_ >= 0) close(fd_);
}

std::string RefusingPort::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

bool RefusingPort::Listen() { return listen(fd_, 16) == 0; }

// --- The fixture ---

std::string BackendTestName(
    const testing::TestParamInfo<RegistryBackend>& info) {
  switch (info.param) {
    case RegistryBackend::kThisProcess:
      return "EmbeddedInRoot";
    case RegistryBackend::kActorNode:
      return "ActorNodeRegistrar";
  }
  return "Unknown";
}

void DiscoveryTest::SetUp() {
  guard_ = std::make_unique<HangGuard>(kTestLimit, CurrentTestName());
  ASSERT_TRUE(BecomeSubreaper().ok());
  ReapAdoptedZombies();
  const std::vector<ProcessEntry> before = ListDescendants(getpid());
  ASSERT_TRUE(before.empty()) << "processes left from before this test:\n"
                              << DescribeProcesses(before);
  absl::StatusOr<ActorIdentity> identity =
      ActorIdentity::Create("discovery-root");
  ASSERT_TRUE(identity.ok()) << identity.status();
  root_ = std::make_unique<ActorCore>(*std::move(identity));
  root_->SetToken(TestTreeToken());
  if (backend() == RegistryBackend::kActorNode) {
    absl::StatusOr<std::unique_ptr<ActorProcess>> registrar =
        StartNode({"--name=registrar"});
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    registrar_node_ = *std::move(registrar);
    root_->SetRegistryAddresses({registrar_node_->address().ToString()});
  }
  absl::StatusOr<std::unique_ptr<ActorServer>> server = ActorServer::Start(
      root_.get(), *Address::Parse("127.0.0.1:0"), [](const v1::ActorId&) {},
      RegistryClients::Create());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ASSERT_EQ(root_->registry_addresses().size(), 1u);
  registry_address_ = root_->registry_addresses().front();
  absl::StatusOr<std::unique_ptr<Registry>> registry =
      ConnectRegistry(registry_address_, TestTreeToken());
  ASSERT_TRUE(registry.ok()) << registry.status();
  registry_ = *std::move(registry);
}

void DiscoveryTest::TearDown() {
  nodes_.clear();
  if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  server_.reset();
  registrar_node_.reset();
  ExpectNoProcessLeft();
  registry_.reset();
  root_.reset();
  guard_.reset();
}

absl::StatusOr<std::unique_ptr<ActorProcess>> DiscoveryTest::StartNode(
    std::vector<std::string> args) {
  return ActorProcess::Start(RunfilePath("app/actor_node"), std::move(args),
                             kBootTimeout);
}

ActorProcess* DiscoveryTest::StartRegisteredNode(const std::string& name) {
  absl::StatusOr<std::unique_ptr<ActorProcess>> node =
      StartNode({"--name=" + name, "--registry=" + registry_address()});
  EXPECT_TRUE(node.ok()) << node.status();
  if (!node.ok()) return nullptr;
  nodes_.push_back(*std::move(node));
  return nodes_.back().get();
}

std::vector<v1::RegistryEntry> DiscoveryTest::Entries() {
  absl::StatusOr<std::vector<v1::RegistryEntry>> entries =
      registry().List(absl::Now() + kRegistryTimeout);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *std::move(entries) : std::vector<v1::RegistryEntry>();
}

bool DiscoveryTest::Registered(const std::string& uuid) {
  return FindUuid(Entries(), uuid) != nullptr;
}

std::optional<absl::Duration> DiscoveryTest::AwaitGone(const std::string& uuid,
                                                       absl::Time since) {
  if (PollUntil(since + kGoneTimeout, [&] { return !Registered(uuid); })) {
    return absl::Now() - since;
  }
  ADD_FAILURE() << uuid << " still registered " << kGoneTimeout
                << " later: " << Describe(Entries());
  return std::nullopt;
}

absl::Status DiscoveryTest::OpenNursery(const ActorNursery::Block& block,
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
  const absl::Status status = ActorNursery::Open(root_.get(), block);
  done.Notify();
  watchdog.join();
  return status;
}

void DiscoveryTest::ExpectNoProcessLeft() {
  std::vector<ProcessEntry> left;
  PollUntil(absl::Now() + kReapTimeout, [&] {
    ReapAdoptedZombies();
    left = ListDescendants(getpid());
    return left.empty();
  });
  EXPECT_TRUE(left.empty()) << "left behind:\n" << DescribeProcesses(left);
  KillAll(left);
  WaitUntilGone(left, absl::Now() + absl::Seconds(10));
}

}  // namespace tether::discovery_test
