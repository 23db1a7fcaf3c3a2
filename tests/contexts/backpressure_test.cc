// Backpressure across two processes: a fast sender with backpressure stays
// within the receiver's buffer plus one HTTP/2 window of what it has not
// received, and a cancel still ends it promptly. The test process opens a
// context with tests/flow_test_actor and reads the producer's progress
// with the callee's `probe` function.

#include <algorithm>
#include <cstdint>
#include <iostream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/contexts/flow_test_fixture.h"
#include "tests/contexts/flow_test_limits.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/value.h"

namespace tether::flow_test {
namespace {

// --- 19. Backpressure bounds what is in flight ----------------------------

// The receive buffer, in payloads, and the size of each payload's padding.
constexpr int64_t kBackpressureBuffer = 16;
constexpr int64_t kBackpressurePadBytes = 16 * 1024;
// Receive steps, each one value, a pause and a probe round trip: the
// receiver takes one value per ~15 ms, the sender one per ~15 us.
constexpr int kSteps = 200;
constexpr absl::Duration kReceiverPace = absl::Milliseconds(15);

// The most a backpressured sender can have sent but the receiver not yet
// received ("in flight"), in payloads:
//
//   receiver's inbox       2 * buffer - 1: a read is issued only while the
//                          buffer holds fewer than `buffer`, and the batch
//                          it brings is at most `buffer` payloads (the
//                          sender caps batches at the buffer size under
//                          backpressure, runtime/context/context.cc
//                          SendOptions).
//   one HTTP/2 window      the receiver's stream window in bytes, over the
//                          payload size. gRPC 1.51's window is
//                          SETTINGS_INITIAL_WINDOW_SIZE, which BDP probing
//                          raises (towards 4 MiB at low memory pressure)
//                          and its PID controller caps at 2^25 bytes, plus
//                          at most 2^20 bytes (kMaxWindowDelta) announced
//                          for a pending read. Each payload is more than
//                          kBackpressurePadBytes on the wire.
//   sender's write         one batch, at most `buffer` payloads, whose
//                          write gRPC has not completed.
//   sender's queue         Outbox::Options::capacity, 256 payloads
//                          (runtime/context/internal/outbox.h): Send waits
//                          beyond it.
constexpr int64_t kWindowBytes = (int64_t{1} << 25) + (int64_t{1} << 20);
constexpr int64_t kInFlightBound =
    (2 * kBackpressureBuffer - 1) +
    (kWindowBytes + kBackpressurePadBytes - 1) / kBackpressurePadBytes +
    kBackpressureBuffer + kSendQueueCapacity;

using BackpressureTest = FlowTestFixture;

TEST_F(BackpressureTest, FastSenderStaysWithinBufferPlusOneWindow) {
  ContextOptions options;
  options.backpressure = true;
  options.buffer_size = kBackpressureBuffer;
  int64_t max_in_flight = 0;
  int64_t sent_at_cancel = 0;
  int64_t received = 0;
  absl::Duration receiving_took;
  absl::Time cancelled_at = absl::InfiniteFuture();
  const absl::Status status = WithWatchdog(kBlockLimit, [&] {
    return portal().OpenContext(
        "produce",
        Args({{"token", Value::String("fast")},
              {"n", Value::Int(kProduced)},
              {"bytes", Value::Int(kBackpressurePadBytes)}}),
        [&](Context& ctx, const Value&) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          const absl::Time start = absl::Now();
          for (int step = 0; step < kSteps; ++step) {
            TETHER_ASSIGN_OR_RETURN(Value value,
                                    stream.Receive(absl::Now() + kPromptly));
            ++received;
            TETHER_ASSIGN_OR_RETURN(Value index, value.Field("i"));
            EXPECT_EQ(index, Value::Int(step));
            TETHER_RETURN_IF_ERROR(Sleep(kReceiverPace));
            TETHER_ASSIGN_OR_RETURN(Value record, Probe("fast"));
            const int64_t in_flight = IntField(record, "sent") - received;
            max_in_flight = std::max(max_in_flight, in_flight);
            EXPECT_LE(in_flight, kInFlightBound) << "at step " << step;
          }
          receiving_took = absl::Now() - start;
          TETHER_ASSIGN_OR_RETURN(Value record, Probe("fast"));
          sent_at_cancel = IntField(record, "sent");
          cancelled_at = absl::Now();
          ctx.Cancel();
          return absl::OkStatus();
        },
        options);
  });
  const absl::Duration block_took = absl::Now() - cancelled_at;

  ASSERT_TRUE(status.ok()) << DescribeError(status);
  EXPECT_LE(max_in_flight, kInFlightBound);
  EXPECT_LT(sent_at_cancel, kProduced) << "the sender was never held back";
  EXPECT_LT(block_took, kPromptly);
  const absl::StatusOr<Value> record = AwaitProbe("fast", Ended, kPromptly);
  ASSERT_TRUE(record.ok()) << record.status();
  const absl::Duration task_took = absl::Now() - cancelled_at;
  EXPECT_EQ(IntField(*record, "exit_kind"), v1::ERROR_KIND_CONTEXT_CANCELLED)
      << record->ToJson();
  EXPECT_EQ(StringField(*record, "exit_canceller"), opener().id().uuid());

  const int64_t fast_sends = IntField(*record, "fast_sends");
  const double send_us =
      fast_sends == 0 ? 0.0
                      : IntField(*record, "fast_send_ns") / 1000.0 / fast_sends;
  const double step_us = absl::ToDoubleMicroseconds(receiving_took) / kSteps;
  std::cout << "[ measured ] buffer " << kBackpressureBuffer << ", payload "
            << kBackpressurePadBytes << " B, " << kSteps << " steps: max in "
            << "flight " << max_in_flight << " payloads (bound "
            << kInFlightBound << "), sent at cancel " << sent_at_cancel
            << "; receiver step " << step_us << " us, sender send " << send_us
            << " us (" << (send_us > 0 ? step_us / send_us : 0.0)
            << "x); block ended " << absl::FormatDuration(block_took)
            << " and the producer within " << absl::FormatDuration(task_took)
            << " after Cancel()\n";
  RecordProperty("max_in_flight", static_cast<int>(max_in_flight));
  RecordProperty("in_flight_bound", static_cast<int>(kInFlightBound));
}
}  // namespace
}  // namespace tether::flow_test
