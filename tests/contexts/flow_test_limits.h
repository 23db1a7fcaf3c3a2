// File: tests/contexts/flow_test_limits.h
//
// What the overrun, stuck-stream and backpressure tests
// (tests/contexts/overrun_test.cc, tests/contexts/stuck_stream_test.cc,
// tests/contexts/backpressure_test.cc) share besides their fixture
// (tests/contexts/flow_test_fixture.h): the runtime's buffer limits they
// compute with, how long their contexts may take, and how a callee may allow
// overruns.
//
//   const absl::Status status = WithWatchdog(kBlockLimit, [&] {
//     return portal().OpenContext(
//         "park", Args({{"token", Value::String("parked")}}), block);
//   });
//
// Constants and a pure function: thread-safe.

#ifndef TETHER_TESTS_CONTEXTS_FLOW_TEST_LIMITS_H_
#define TETHER_TESTS_CONTEXTS_FLOW_TEST_LIMITS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "tether/value.h"

namespace tether::flow_test {

// Every context a test opens must end within this; the watchdog cancels it
// otherwise.
inline constexpr absl::Duration kBlockLimit = absl::Seconds(30);
// What "promptly" means for an error, a cancel or an overrun report.
inline constexpr absl::Duration kPromptly = absl::Seconds(10);
// The default receive buffer (frame.proto ContextOptions.buffer_size).
inline constexpr int64_t kDefaultBuffer = 64;
// Inbox::Options::overflow_capacity (runtime/context/internal/inbox.h): what an
// allow_overruns side holds beyond its buffer before it stops reading.
inline constexpr int64_t kOverflowCapacity = 4096;
// Outbox::Options::capacity (runtime/context/internal/outbox.h): payloads a
// sender queues before Send waits.
inline constexpr int64_t kSendQueueCapacity = 256;
// How many values a producer that must be held back (or get stuck) is
// asked to send: it is cancelled long before it gets there.
inline constexpr int64_t kProduced = 100000;

// How the callee side of a context allows overruns, if it does.
enum class CalleeAllows { kNo, kByCalleeCode, kByCalleeAllowOverruns };

// The arguments object of a callee function.
inline Value Args(std::initializer_list<std::pair<std::string, Value>> fields) {
  return Value::Object(fields);
}

}  // namespace tether::flow_test

#endif  // TETHER_TESTS_CONTEXTS_FLOW_TEST_LIMITS_H_
