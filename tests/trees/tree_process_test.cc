// Whole actor trees as separate processes: tests/tree_root run by the test
// under signals, faults and peer cancellation. The root prints what it saw
// as `observed KEY=VALUE` lines; the test checks those, the exit status,
// stderr, and /proc for every process of the tree.
//
// The test process is a child subreaper, so descendants orphaned by a
// dying actor are re-parented to it: ListDescendants(getpid()) sees the
// whole tree at all times, and every test ends with it empty.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/actor_process.h"
#include "tests/support/process_tree.h"

namespace tether {
namespace {

// Booting a tree (several re-executed processes, under ASan too) and
// scenarios that run to their end.
constexpr absl::Duration kBootTimeout = absl::Seconds(30);
constexpr absl::Duration kScenarioTimeout = absl::Seconds(30);
// How promptly a tree must react: exit after a signal, be gone, notice a
// broken link.
constexpr absl::Duration kInterruptExit = absl::Seconds(2);
constexpr absl::Duration kTreeGone = absl::Seconds(2);
constexpr absl::Duration kLinkBreakNoticed = absl::Seconds(2);

// The lines of `text` that contain any of `needles`.
std::string LinesWith(const std::string& text,
                      const std::vector<std::string>& needles) {
  std::string found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (std::any_of(needles.begin(), needles.end(),
                    [line](const std::string& needle) {
                      return absl::StrContains(line, needle);
                    })) {
      absl::StrAppend(&found, line, "\n");
    }
  }
  return found;
}

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

class TreeProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BecomeSubreaper().ok());
    ReapAdoptedZombies();
    const std::vector<ProcessEntry> before = ListDescendants(getpid());
    ASSERT_TRUE(before.empty()) << "processes left from before this test:\n"
                                << DescribeProcesses(before);
  }

  // Whatever happened, nothing outlives the test: what is left is a
  // failure, and is killed.
  void TearDown() override {
    Adopted(ReapAdoptedZombies());
    const std::vector<ProcessEntry> left = ListDescendants(getpid());
    EXPECT_TRUE(left.empty()) << "left behind:\n" << DescribeProcesses(left);
    if (expect_no_orphans_) {
      EXPECT_TRUE(adopted_.empty())
          << adopted_.size() << " process(es) outlived their parent and were "
          << "reaped by the test, the first pid " << adopted_.front();
    }
    KillAll(left);
    root_.reset();
    const std::vector<ProcessEntry> survivors =
        WaitUntilGone(left, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(survivors.empty()) << "survived SIGKILL:\n"
                                   << DescribeProcesses(survivors);
  }

  // Waits until `processes` are gone (see WaitUntilGone), noting the
  // orphans the test reaped; returns the ones still there.
  std::vector<ProcessEntry> WaitGone(const std::vector<ProcessEntry>& processes,
                                     absl::Time deadline) {
    std::vector<pid_t> adopted;
    std::vector<ProcessEntry> left =
        WaitUntilGone(processes, deadline, &adopted);
    Adopted(adopted);
    return left;
  }

  void Adopted(const std::vector<pid_t>& pids) {
    adopted_.insert(adopted_.end(), pids.begin(), pids.end());
  }

  // Starts the root with `scenario`; fails the test if it does not boot.
  void StartRoot(const std::string& scenario) {
    absl::StatusOr<std::unique_ptr<RootProcess>> root =
        RootProcess::Start(RunfilePath("tests/trees/tree_root"),
                           {"--scenario=" + scenario}, kBootTimeout);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = *std::move(root);
  }

  // The value of `observed KEY=...`, or "(not printed)".
  std::string Observed(const std::string& key) const {
    return root_->Observed(key).value_or("(not printed)");
  }

  // The pid in `observed KEY=PID`; fails the test when absent.
  pid_t ObservedPid(const std::string& key) const {
    pid_t pid = 0;
    EXPECT_TRUE(absl::SimpleAtoi(Observed(key), &pid)) << key;
    return pid;
  }

  // Waits for the root to exit on its own and returns its wait status.
  std::optional<int> WaitRootExit(absl::Duration timeout) {
    absl::StatusOr<int> status = root_->WaitExit(timeout);
    EXPECT_TRUE(status.ok()) << status.status() << "\nstdout:\n"
                             << root_->Stdout();
    if (!status.ok()) return std::nullopt;
    return *status;
  }

  // A tree of two middle actors with a grandchild each, booted; returns
  // its processes (the root's descendants).
  std::vector<ProcessEntry> BootTree() {
    StartRoot("tree");
    if (root_ == nullptr) return {};
    EXPECT_TRUE(root_->WaitForStdout("observed tree=ready", kBootTimeout))
        << root_->Stderr();
    const std::vector<ProcessEntry> tree = ListDescendants(root_->pid());
    for (absl::string_view pid_text :
         absl::StrSplit(Observed("tree_pids"), ',')) {
      pid_t pid = 0;
      EXPECT_TRUE(absl::SimpleAtoi(pid_text, &pid)) << pid_text;
      EXPECT_TRUE(std::any_of(
          tree.begin(), tree.end(),
          [pid](const ProcessEntry& process) { return process.pid == pid; }))
          << pid << " is not a descendant of the root:\n"
          << DescribeProcesses(tree);
    }
    // 2 middles and 2 grandchildren.
    EXPECT_GE(tree.size(), 4u) << DescribeProcesses(tree);
    return tree;
  }

  // Signals the booted tree's root and checks it exits with
  // `expected_exit` within kInterruptExit, leaving nothing.
  void InterruptTree(int signal, int expected_exit) {
    const std::vector<ProcessEntry> tree = BootTree();
    ASSERT_FALSE(HasFailure());
    root_->Signal(signal);
    absl::StatusOr<int> status = root_->WaitExit(kInterruptExit);
    ASSERT_TRUE(status.ok()) << "the root did not exit within "
                             << kInterruptExit << " of the signal";
    EXPECT_EQ(WaitStatusText(*status), absl::StrCat("exit ", expected_exit));
    const std::vector<ProcessEntry> left =
        WaitGone(tree, absl::Now() + kTreeGone);
    EXPECT_TRUE(left.empty()) << DescribeProcesses(left);
  }

  // Runs kill_mid_stream: SIGKILLs the child the root streams from, checks
  // the root noticed within kLinkBreakNoticed and exited 0; returns the
  // child as it was (nullopt, with the failure recorded, otherwise).
  std::optional<ProcessEntry> KillStreamerMidStream() {
    StartRoot("kill_mid_stream");
    if (root_ == nullptr) return std::nullopt;
    EXPECT_TRUE(root_->WaitForStdout("observed streaming=yes", kBootTimeout))
        << root_->Stderr();
    const std::optional<ProcessEntry> streamer =
        ReadProcess(ObservedPid("streamer_pid"));
    if (!streamer.has_value()) {
      ADD_FAILURE() << "no streamer process";
      return std::nullopt;
    }
    EXPECT_EQ(streamer->ppid, root_->pid());
    EXPECT_EQ(kill(streamer->pid, SIGKILL), 0);
    EXPECT_TRUE(
        root_->WaitForStdout("observed stream_error_kind=", kLinkBreakNoticed))
        << "the root's context did not end within " << kLinkBreakNoticed
        << " of the SIGKILL";
    const std::optional<int> status = WaitRootExit(kScenarioTimeout);
    if (!status.has_value()) return std::nullopt;
    EXPECT_EQ(WaitStatusText(*status), "exit 0") << root_->Stderr();
    return streamer;
  }

  std::unique_ptr<RootProcess> root_;
  // Descendants whose parent exited before reaping them; the test, as
  // subreaper, reaped them instead. A tree that tears down in order has
  // none: every actor reaps its children before it exits.
  std::vector<pid_t> adopted_;
  bool expect_no_orphans_ = true;
};

// 5. SIGINT to the root of a running tree: exit 130 within 2 s, and no
// descendant remains.
TEST_F(TreeProcessTest, SigintToRootTearsDownTheTree) {
  InterruptTree(SIGINT, 130);
  EXPECT_NE(root_->Stderr().find("tether root: interrupted (SIGINT)"),
            std::string::npos);
}

// The same for SIGTERM: exit 143.
TEST_F(TreeProcessTest, SigtermToRootTearsDownTheTree) {
  InterruptTree(SIGTERM, 143);
}

// 13. SIGKILL of the root: nothing can run in it, so its children must go
// on their own (parent-death signal), and take their children with them,
// within 2 s.
TEST_F(TreeProcessTest, SigkillOfRootTakesEveryDescendant) {
  const std::vector<ProcessEntry> tree = BootTree();
  ASSERT_FALSE(HasFailure());
  const absl::Time killed = absl::Now();
  root_->Signal(SIGKILL);
  absl::StatusOr<int> status = root_->WaitExit(kInterruptExit);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(WaitStatusText(*status), "signal 9");
  // The root's children are orphans by design here.
  expect_no_orphans_ = false;
  const std::vector<ProcessEntry> left = WaitGone(tree, killed + kTreeGone);
  EXPECT_TRUE(left.empty())
      << "still there " << kTreeGone << " after the root's SIGKILL:\n"
      << DescribeProcesses(left);
}

// 6. A grandchild spins without a cancellation point when the root's body
// fails: the root exits with its own error (not a timeout), the spinner is
// taken down by process-level escalation, and nothing is left.
TEST_F(TreeProcessTest, RootErrorWinsOverSpinningGrandchild) {
  StartRoot("spinning_grandchild");
  ASSERT_NE(root_, nullptr);
  ASSERT_TRUE(root_->WaitForStdout("observed root=failing", kBootTimeout))
      << root_->Stderr();
  const std::optional<ProcessEntry> spinner =
      ReadProcess(ObservedPid("grandchild_pid"));
  const std::optional<ProcessEntry> middle =
      ReadProcess(ObservedPid("middle_pid"));
  ASSERT_TRUE(spinner.has_value() && middle.has_value());
  EXPECT_EQ(spinner->ppid, middle->pid);
  const std::vector<ProcessEntry> tree = ListDescendants(root_->pid());

  const std::optional<int> status = WaitRootExit(kScenarioTimeout);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WaitStatusText(*status), "exit 1");
  const std::string stderr_text = root_->Stderr();
  const size_t error_line = stderr_text.find("tether root: error: ");
  ASSERT_NE(error_line, std::string::npos) << stderr_text;
  const std::string error = stderr_text.substr(
      error_line, stderr_text.find('\n', error_line) - error_line);
  EXPECT_EQ(error,
            "tether root: error: tree_root.RootGaveUp: the root gives up "
            "while its grandchild spins");

  // The spinner never reached a cancellation point, yet it is gone. How
  // (and whether its parent reaped it) is MiddleReapsItsSpinningGrandchild's
  // question.
  expect_no_orphans_ = false;
  EXPECT_TRUE(WaitGone({*spinner}, absl::Now() + kTreeGone).empty())
      << DescribeProcesses({*spinner});
  EXPECT_TRUE(WaitGone(tree, absl::Now() + kTreeGone).empty());
  RecordProperty("teardown_log",
                 LinesWith(stderr_text, {"still runs", "ignored cancellation",
                                         "sending SIG"}));
}

// 6, stricter: the middle supervises the spinner to the end - cancel
// request, SIGTERM, SIGKILL as its nursery's escalation says - and reaps
// it, rather than exit first and leave it an orphan. (DESIGN.md: "every
// child is reaped"; code that never yields is handled by process-level
// escalation.)
TEST_F(TreeProcessTest, MiddleReapsItsSpinningGrandchild) {
  StartRoot("spinning_grandchild");
  ASSERT_NE(root_, nullptr);
  ASSERT_TRUE(root_->WaitForStdout("observed root=failing", kBootTimeout))
      << root_->Stderr();
  const std::optional<ProcessEntry> spinner =
      ReadProcess(ObservedPid("grandchild_pid"));
  ASSERT_TRUE(spinner.has_value());
  const std::vector<ProcessEntry> tree = ListDescendants(root_->pid());
  const std::optional<int> status = WaitRootExit(kScenarioTimeout);
  ASSERT_TRUE(status.has_value());

  // The test is the subreaper: a spinner whose parent exited first is
  // re-parented to it, and reaped here.
  expect_no_orphans_ = false;  // checked here, by name
  EXPECT_TRUE(WaitGone(tree, absl::Now() + kTreeGone).empty());
  EXPECT_EQ(std::count(adopted_.begin(), adopted_.end(), spinner->pid), 0)
      << "the spinner outlived its parent (the middle) and was reaped by the "
         "test, not by the middle's nursery";
  EXPECT_EQ(LinesWith(LinesWith(root_->Stderr(), {"ignored cancellation"}),
                      {"middle["}),
            "")
      << "the middle exited while its nursery was still tearing down";
}

// 8. tractor's test_peer_canceller: a third actor cancels the sleeper.
// Every context the cancel ended names the canceller; the ones it did not
// touch name no one; nobody here called Cancel().
TEST_F(TreeProcessTest, PeerCancellationNamesTheCanceller) {
  StartRoot("peer_cancel");
  ASSERT_NE(root_, nullptr);
  const std::optional<int> status = WaitRootExit(kScenarioTimeout);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WaitStatusText(*status), "exit 0") << root_->Stderr();

  const std::string canceller = Observed("canceller.uuid");
  ASSERT_EQ(canceller.size(), 36u) << canceller;
  EXPECT_NE(Observed("canceller.accepted"), canceller);

  // The root's own context with sleeper.
  EXPECT_EQ(Observed("sleeper_ctx.block_ended_by"),
            "ERROR_KIND_CONTEXT_CANCELLED");
  EXPECT_EQ(Observed("sleeper_ctx.outcome"), "ERROR_KIND_CONTEXT_CANCELLED");
  EXPECT_EQ(Observed("sleeper_ctx.outcome_canceller"), canceller);
  EXPECT_EQ(Observed("sleeper_ctx.canceller"), canceller);
  EXPECT_EQ(Observed("sleeper_ctx.cancel_called"), "no");

  // The caller's context with sleeper, as the caller saw it.
  EXPECT_EQ(Observed("caller.received_some"), "yes");
  EXPECT_EQ(Observed("caller.stream_error_kind"),
            "ERROR_KIND_CONTEXT_CANCELLED");
  EXPECT_EQ(Observed("caller.peer_ctx_canceller"), canceller);
  EXPECT_EQ(Observed("caller.peer_ctx_cancel_called"), "no");
  EXPECT_EQ(Observed("caller.open_context_error_kind"),
            "ERROR_KIND_CONTEXT_CANCELLED");
  EXPECT_EQ(Observed("caller.open_context_canceller"), canceller);

  // Contexts the canceller did not touch.
  EXPECT_EQ(Observed("caller_ctx.outcome"), "OK");
  EXPECT_EQ(Observed("caller_ctx.canceller"), "unset");
  EXPECT_EQ(Observed("caller_ctx.cancel_called"), "no");
  EXPECT_EQ(Observed("canceller_ctx.outcome"), "OK");
  EXPECT_EQ(Observed("canceller_ctx.canceller"), "unset");
  EXPECT_EQ(Observed("canceller_ctx.cancel_called"), "no");
}

// 9. tractor's test_do_not_swallow_error_before_started_by_remote_
// contextcancelled: the errorer fails before Started and cancels its own
// context with a peer while unwinding; the root gets the original error.
TEST_F(TreeProcessTest, ErrorBeforeStartedIsNotSwallowedByPeerCancel) {
  StartRoot("error_before_started");
  ASSERT_NE(root_, nullptr);
  const std::optional<int> status = WaitRootExit(kScenarioTimeout);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WaitStatusText(*status), "exit 0") << root_->Stderr();
  EXPECT_EQ(Observed("errorer_block"), "(not printed)");
  EXPECT_EQ(Observed("error_kind"), "ERROR_KIND_APPLICATION");
  EXPECT_EQ(Observed("is_context_cancelled"), "no");
  EXPECT_EQ(Observed("error_type"), "tree_root.ServiceStartError");
  EXPECT_EQ(Observed("error_message"), "the service refused to start");
  EXPECT_EQ(Observed("error_source"), "errorer");
  EXPECT_EQ(Observed("service_echo"), "still serving");
  EXPECT_NE(root_->Stderr().find("errorer cancelled its service context: "
                                 "ERROR_KIND_CONTEXT_CANCELLED"),
            std::string::npos);
}

// 11a. The child the root streams from is SIGKILLed: the root's context
// ends promptly with TransportClosed (or an ActorFailure naming signal 9),
// the child is reaped, the tree exits.
TEST_F(TreeProcessTest, SigkillOfStreamingChildBreaksTheContext) {
  const std::optional<ProcessEntry> streamer = KillStreamerMidStream();
  ASSERT_TRUE(streamer.has_value());
  const std::string kind = Observed("stream_error_kind");
  if (kind == "ERROR_KIND_ACTOR_FAILURE") {
    EXPECT_NE(Observed("stream_error").find("signal 9"), std::string::npos);
  } else {
    EXPECT_EQ(kind, "ERROR_KIND_TRANSPORT_CLOSED") << Observed("stream_error");
  }
  EXPECT_EQ(Observed("context_error_kind"), kind);
  // Reaped by the root's nursery: gone while the root still ran, and not
  // handed to the test as a zombie when the root exited.
  EXPECT_EQ(Observed("streamer_state_after_nursery"), "gone");
  EXPECT_TRUE(IsGone(*streamer))
      << DescribeProcesses({ReadProcess(streamer->pid).value_or(*streamer)});
}

// 11a, the nursery's view: a child that dies is an error of its nursery
// (tether/nursery.h), which Open returns.
TEST_F(TreeProcessTest, NurseryReportsTheChildKilledMidStream) {
  ASSERT_TRUE(KillStreamerMidStream().has_value());
  EXPECT_EQ(Observed("nursery_error_kind"), "ERROR_KIND_ACTOR_FAILURE")
      << "the root's log says: "
      << LinesWith(root_->Stderr(), {"actor nursery failing"});
  EXPECT_NE(Observed("nursery_error").find("signal 9"), std::string::npos)
      << Observed("nursery_error");
}

// 11b. The child shuts down its server-side connections mid-stream (the
// link breaks, the process lives): the root's context ends with
// TransportClosed, and the child is still reachable over a new connection.
TEST_F(TreeProcessTest, SeveredLinkBreaksTheContextNotTheActor) {
  StartRoot("sever_mid_stream");
  ASSERT_NE(root_, nullptr);
  const std::optional<int> status = WaitRootExit(kScenarioTimeout);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WaitStatusText(*status), "exit 0") << root_->Stderr();
  EXPECT_NE(root_->Stderr().find("streamer severed "), std::string::npos);
  int received = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Observed("received_before_break"), &received));
  EXPECT_GE(received, 3);
  EXPECT_EQ(Observed("stream_error_kind"), "ERROR_KIND_TRANSPORT_CLOSED")
      << Observed("stream_error");
  EXPECT_EQ(Observed("context_error_kind"), "ERROR_KIND_TRANSPORT_CLOSED");
  EXPECT_EQ(Observed("streamer_alive"), "yes");
  EXPECT_EQ(Observed("streamer_echo"), "reconnected");
}

}  // namespace
}  // namespace tether
