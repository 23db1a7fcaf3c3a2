#include "rpc/call_queue.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "grpcpp/alarm.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

// Records that it ran and with what.
class Recorder final : public CallEvent {
 public:
  void OnEvent(bool ok) override {
    ran = true;
    this->ok = ok;
  }
  bool ran = false;
  bool ok = false;
};

TEST(CallQueueTest, PollOnceHandlesACompletionWithItsEvent) {
  CallQueue queue;
  Recorder event;
  grpc::Alarm alarm;
  alarm.Set(queue.cq(), gpr_time_0(GPR_CLOCK_REALTIME), &event);
  EXPECT_TRUE(queue.PollOnce(absl::Now() + absl::Seconds(10)));
  EXPECT_TRUE(event.ran);
  EXPECT_TRUE(event.ok);
}

TEST(CallQueueTest, PollOnceWithoutWaitingFindsNothing) {
  CallQueue queue;
  EXPECT_FALSE(queue.PollOnce(absl::InfinitePast()));
}

TEST(CallQueueTest, KickEndsAPollThatWaitsForever) {
  CallQueue queue;
  std::atomic<bool> polled{false};
  std::thread poller([&] {
    queue.PollOnce(absl::InfiniteFuture());
    polled = true;
  });
  // Kicks until the poll returns: a kick before the poll began is consumed
  // by it, so one of them ends the wait whatever the timing.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!polled && absl::Now() < give_up) {
    queue.Kick();
    std::this_thread::yield();
  }
  poller.join();
  EXPECT_TRUE(polled);
}

}  // namespace
}  // namespace tether
