#include "client/debug/prompt_watch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "tether/v1/debug.pb.h"

namespace tether {
namespace {

// Long enough for a poll or two; the watches below that must not return
// true wait exactly this long.
constexpr absl::Duration kShortWait = absl::Milliseconds(120);

// A child process of this test that waits until the test ends it.
class IdleChild {
 public:
  IdleChild() {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[1]);
      char byte;
      (void)!read(fds[0], &byte, 1);  // until the parent closes its end
      _exit(0);
    }
    close(fds[0]);
    hold_ = fds[1];
  }
  ~IdleChild() {
    close(hold_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int hold_ = -1;
};

v1::DebugStatus HeldBy(pid_t pid) {
  v1::DebugStatus status;
  status.mutable_holder()->mutable_requester()->set_name("holder");
  status.mutable_holder()->set_pid(pid);
  return status;
}

PromptWatch Reporting(v1::DebugStatus status) {
  return PromptWatch(
      [status]() -> absl::StatusOr<v1::DebugStatus> { return status; });
}

TEST(IsSameOrDescendantTest, FollowsParentsUpwards) {
  IdleChild child;
  EXPECT_TRUE(IsSameOrDescendant(getpid(), getpid()));
  EXPECT_TRUE(IsSameOrDescendant(child.pid(), getpid()));
  EXPECT_TRUE(IsSameOrDescendant(child.pid(), getppid()));
  EXPECT_FALSE(IsSameOrDescendant(getpid(), child.pid()));
  EXPECT_FALSE(IsSameOrDescendant(getppid(), getpid()));
}

TEST(IsSameOrDescendantTest, SiblingsAreNotDescendants) {
  IdleChild a;
  IdleChild b;
  EXPECT_FALSE(IsSameOrDescendant(a.pid(), b.pid()));
  EXPECT_FALSE(IsSameOrDescendant(b.pid(), a.pid()));
}

TEST(PromptWatchTest, IdleOnlyWithNoHolderAndNoWaiter) {
  EXPECT_TRUE(Reporting(v1::DebugStatus()).AwaitIdle(absl::Now()));
  EXPECT_FALSE(Reporting(HeldBy(getpid())).AwaitIdle(absl::Now() + kShortWait));
  v1::DebugStatus waiting;
  waiting.add_waiters()->set_pid(getpid());
  EXPECT_FALSE(Reporting(waiting).AwaitIdle(absl::Now() + kShortWait));
}

TEST(PromptWatchTest, HeldUnderAChildWhenItOrItsDescendantHolds) {
  IdleChild child;
  IdleChild sibling;
  const PromptWatch watch = Reporting(HeldBy(child.pid()));
  EXPECT_FALSE(watch.AwaitNotHeldUnder(child.pid(), absl::Now() + kShortWait));
  // This process is the holder's parent: its subtree holds the lock.
  EXPECT_FALSE(watch.AwaitNotHeldUnder(getpid(), absl::Now() + kShortWait));
  EXPECT_TRUE(watch.AwaitNotHeldUnder(sibling.pid(), absl::Now()));
  EXPECT_TRUE(
      Reporting(v1::DebugStatus()).AwaitNotHeldUnder(child.pid(), absl::Now()));
}

TEST(PromptWatchTest, WaitsUntilTheHolderReleases) {
  std::atomic<int> asked{0};
  const PromptWatch watch([&asked]() -> absl::StatusOr<v1::DebugStatus> {
    // Held for the first three looks, then released.
    return ++asked <= 3 ? HeldBy(getpid()) : v1::DebugStatus();
  });
  EXPECT_TRUE(watch.AwaitIdle(absl::InfiniteFuture()));
  EXPECT_EQ(asked.load(), 4);
}

// A root that cannot be asked does not hold teardown up.
TEST(PromptWatchTest, AnUnreachableRootCountsAsFree) {
  const PromptWatch watch([]() -> absl::StatusOr<v1::DebugStatus> {
    return absl::UnavailableError("connection refused");
  });
  EXPECT_TRUE(watch.AwaitIdle(absl::InfiniteFuture()));
  EXPECT_TRUE(watch.AwaitNotHeldUnder(getpid(), absl::InfiniteFuture()));
}

TEST(PromptWatchTest, NoWatchOutsideDebugMode) {
  ActorCore runtime(*ActorIdentity::Create("plain"));
  EXPECT_EQ(PromptWatch::For(runtime), nullptr);
}

// A non-root actor asks its root; a root nobody listens for is given up on
// within the RPC's timeout.
TEST(PromptWatchTest, AChildWhoseRootIsGoneTearsDownWithoutWaiting) {
  ActorCore runtime(*ActorIdentity::Create("orphan"));
  runtime.SetDebugMode(true);
  v1::ActorRef root;
  root.mutable_id()->set_name("gone-root");
  root.add_addresses("127.0.0.1:1");
  runtime.SetRoot(root);
  const std::unique_ptr<PromptWatch> watch = PromptWatch::For(runtime);
  ASSERT_NE(watch, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(watch->AwaitIdle(absl::InfiniteFuture()));
  EXPECT_LE(absl::Now() - start, PromptWatch::kStatusTimeout + kShortWait);
}

}  // namespace
}  // namespace tether
