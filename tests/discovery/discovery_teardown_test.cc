// A torn-down tree leaves the registry, after tractor's
// test_subactors_unregister_on_cancel (and its _remote_daemon variant):
// tests/discovery_root run as a process is interrupted by SIGINT, or its
// block fails, with or without streams open between the root and its
// children and between two children, with the registrar in the root or in
// a separate actor_node. Within 5 s of the trigger the registry must hold
// only the survivors: the root itself while it runs (the root reports
// that), and, for a separate registrar, nothing from the tree once the
// root has exited (the test checks that), while the registrar node lives
// on.
//
// The test process is a child subreaper; every test ends with no
// descendant left, and a hang guard kills them all if a test hangs.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "client/registry/registry.h"
#include "gtest/gtest.h"
#include "testing/poll_until.h"
#include "tests/support/actor_process.h"
#include "tests/support/hang_guard.h"
#include "tests/support/process_tree.h"
#include "tests/support/test_token.h"
#include "tether/v1/registrar.pb.h"

namespace tether {
namespace {

// A whole test, hung or not; far above what a healthy run needs.
constexpr absl::Duration kTestLimit = absl::Seconds(90);
// Booting the tree (four processes, streams flowing), under ASan too.
constexpr absl::Duration kBootTimeout = absl::Seconds(30);
// From the trigger until the registry holds only the survivors.
constexpr absl::Duration kSurvivorsWithin = absl::Seconds(5);
// From the trigger until the root has exited and its tree is gone.
constexpr absl::Duration kTreeGone = absl::Seconds(10);

struct TeardownCase {
  bool sigint;   // else the root's block fails
  bool streams;  // streams open root<-a0, root<-a1, root<-a2<-a0
  bool remote;   // the registrar is a separate actor_node
};

std::string CaseName(const testing::TestParamInfo<TeardownCase>& info) {
  return absl::StrCat(info.param.sigint ? "Sigint" : "FailingBlock",
                      info.param.streams ? "WithStreams" : "NoStreams",
                      info.param.remote ? "RemoteRegistrar" : "LocalRegistrar");
}

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

std::string Describe(const std::vector<v1::RegistryEntry>& entries) {
  std::vector<std::string> names;
  for (const v1::RegistryEntry& entry : entries) {
    names.push_back(absl::StrCat(entry.actor().id().name(), "[",
                                 entry.actor().id().uuid(), "]"));
  }
  std::sort(names.begin(), names.end());
  return absl::StrJoin(names, ",");
}

class RegistryTeardownTest : public testing::TestWithParam<TeardownCase> {
 protected:
  void SetUp() override {
    const testing::TestInfo* info =
        testing::UnitTest::GetInstance()->current_test_info();
    guard_ = std::make_unique<HangGuard>(
        kTestLimit, absl::StrCat(info->test_suite_name(), ".", info->name()));
    ASSERT_TRUE(BecomeSubreaper().ok());
    ReapAdoptedZombies();
    const std::vector<ProcessEntry> before = ListDescendants(getpid());
    ASSERT_TRUE(before.empty()) << "processes left from before this test:\n"
                                << DescribeProcesses(before);
  }

  // Whatever happened, nothing outlives the test: what is left is a
  // failure, and is killed.
  void TearDown() override {
    root_.reset();
    registrar_.reset();
    ReapAdoptedZombies();
    const std::vector<ProcessEntry> left = ListDescendants(getpid());
    EXPECT_TRUE(left.empty()) << "left behind:\n" << DescribeProcesses(left);
    KillAll(left);
    WaitUntilGone(left, absl::Now() + absl::Seconds(10));
    guard_.reset();
  }

  std::string Observed(const std::string& key) const {
    return root_->Observed(key).value_or("(not printed)");
  }

  std::unique_ptr<HangGuard> guard_;
  std::unique_ptr<ActorProcess> registrar_;
  std::unique_ptr<RootProcess> root_;
};

TEST_P(RegistryTeardownTest, RegistryHoldsOnlyTheSurvivors) {
  const TeardownCase param = GetParam();
  std::vector<std::string> args = {
      param.sigint ? "--trigger=sigint" : "--trigger=fail",
      param.streams ? "--streams=yes" : "--streams=no"};
  std::unique_ptr<Registry> registry;
  std::string registrar_entry;
  if (param.remote) {
    absl::StatusOr<std::unique_ptr<ActorProcess>> registrar =
        ActorProcess::Start(RunfilePath("app/actor_node"), {"--name=registrar"},
                            kBootTimeout);
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    registrar_ = *std::move(registrar);
    const std::string address = registrar_->address().ToString();
    args.push_back("--registry=" + address);
    absl::StatusOr<v1::ActorInfo> info =
        ActorClient::Dial(registrar_->address(), TestTreeToken())
            .Info(absl::Seconds(10));
    ASSERT_TRUE(info.ok()) << info.status();
    registrar_entry = absl::StrCat("registrar[", info->id().uuid(), "]");
    absl::StatusOr<std::unique_ptr<Registry>> connected =
        ConnectRegistry(address, TestTreeToken());
    ASSERT_TRUE(connected.ok()) << connected.status();
    registry = *std::move(connected);
  }
  absl::StatusOr<std::unique_ptr<RootProcess>> root = RootProcess::Start(
      RunfilePath("tests/discovery/discovery_root"), args, kBootTimeout);
  ASSERT_TRUE(root.ok()) << root.status();
  root_ = *std::move(root);
  ASSERT_TRUE(root_->WaitForStdout("observed ready=yes", kBootTimeout))
      << root_->Stderr();
  const std::vector<ProcessEntry> tree = ListDescendants(root_->pid());
  // The root, its three children, and the registrar node if separate.
  EXPECT_EQ(Observed("registered"), param.remote ? "5" : "4");
  const std::string root_entry =
      absl::StrCat("discovery-root[", Observed("root_uuid"), "]");

  // The failing block triggers itself right after `ready`.
  const absl::Time triggered = absl::Now();
  if (param.sigint) root_->Signal(SIGINT);

  // The root's view once its nursery has ended: nothing of the children.
  ASSERT_TRUE(root_->WaitForStdout("observed clean=", kSurvivorsWithin))
      << "no registry report " << kSurvivorsWithin << " after the trigger\n"
      << root_->Stderr();
  RecordProperty(
      "registry_report_after_trigger_ms",
      static_cast<int>(absl::ToInt64Milliseconds(absl::Now() - triggered)));
  EXPECT_EQ(Observed("clean"), "yes") << Observed("left");
  std::vector<std::string> survivors = {root_entry};
  if (param.remote) survivors.push_back(registrar_entry);
  std::sort(survivors.begin(), survivors.end());
  EXPECT_EQ(Observed("left"), absl::StrJoin(survivors, ","));

  absl::StatusOr<int> status = root_->WaitExit(kTreeGone);
  ASSERT_TRUE(status.ok()) << status.status() << "\n" << root_->Stderr();
  EXPECT_EQ(WaitStatusText(*status), param.sigint ? "exit 130" : "exit 1")
      << root_->Stderr();

  // A separate registrar outlives the tree and keeps nothing of it.
  if (param.remote) {
    std::string left;
    absl::Status listed;
    const bool only_registrar =
        PollUntil(triggered + kSurvivorsWithin,
                  [&] {
                    absl::StatusOr<std::vector<v1::RegistryEntry>> entries =
                        registry->List(absl::Now() + absl::Seconds(1));
                    listed = entries.status();
                    if (!entries.ok()) return true;
                    left = Describe(*entries);
                    return left == registrar_entry;
                  }) &&
        listed.ok();
    ASSERT_TRUE(listed.ok()) << listed;
    EXPECT_TRUE(only_registrar) << "the registrar still holds " << left << " "
                                << absl::FormatDuration(absl::Now() - triggered)
                                << " after the trigger";
    const std::optional<ProcessEntry> registrar =
        ReadProcess(registrar_->pid());
    EXPECT_TRUE(registrar.has_value() && registrar->state != 'Z')
        << "the registrar node did not survive the tree's teardown";
  }

  const std::vector<ProcessEntry> left =
      WaitUntilGone(tree, absl::Now() + kTreeGone);
  EXPECT_TRUE(left.empty()) << DescribeProcesses(left);
}

INSTANTIATE_TEST_SUITE_P(Triggers, RegistryTeardownTest,
                         testing::Values(TeardownCase{true, false, false},
                                         TeardownCase{true, true, false},
                                         TeardownCase{false, false, false},
                                         TeardownCase{false, true, false},
                                         TeardownCase{true, false, true},
                                         TeardownCase{true, true, true},
                                         TeardownCase{false, false, true},
                                         TeardownCase{false, true, true}),
                         CaseName);

}  // namespace
}  // namespace tether
