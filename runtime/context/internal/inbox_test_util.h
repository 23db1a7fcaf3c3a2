// File: runtime/context/internal/inbox_test_util.h
//
// Test support for the Inbox tests (runtime/context/internal/inbox_test.cc,
// runtime/context/internal/inbox_failure_test.cc): batches as they come off the
// wire, an inbox that counts its resume calls, and ways to take what is
// buffered.
//
//   CountingInbox inbox({Inbox::Mode::kOverrun, 3});
//   EXPECT_EQ(inbox->Push(Ints(1, 5)), 2u);   // 1..5; two do not fit
//   EXPECT_EQ(TakeAllInts(*inbox), Range(1, 3));

#ifndef TETHER_RUNTIME_CONTEXT_INTERNAL_INBOX_TEST_UTIL_H_
#define TETHER_RUNTIME_CONTEXT_INTERNAL_INBOX_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <ostream>
#include <vector>

#include "absl/time/time.h"
#include "runtime/context/internal/inbox.h"
#include "runtime/context/internal/yield_wire.h"
#include "tether/value.h"

namespace tether {

// Failure messages show values as JSON.
void PrintTo(const Value& value, std::ostream* os);

namespace context_internal {

namespace inbox_test {

// Long enough that reaching it means a wake-up was lost.
inline constexpr absl::Duration kHang = absl::Seconds(30);

// A batch as it comes off the wire: the payloads first, first + 1, ...,
// count of them.
YieldBatch Ints(int64_t first, int64_t count);

// An inbox whose resume callback counts its calls.
class CountingInbox {
 public:
  explicit CountingInbox(Inbox::Options options)
      : inbox_(options, [this] { ++resumes_; }) {}

  Inbox& operator*() { return inbox_; }
  Inbox* operator->() { return &inbox_; }
  int resumes() const { return resumes_.load(); }

 private:
  std::atomic<int> resumes_{0};
  Inbox inbox_;
};

// The next buffered payload as an integer, without waiting; a test failure
// (and -1) when there is none or it is not an integer.
int64_t TakeInt(Inbox& inbox);

// Every payload buffered now, as integers, in the order received.
std::vector<int64_t> TakeAllInts(Inbox& inbox);

// first, first + 1, ..., count of them.
std::vector<int64_t> Range(int64_t first, int64_t count);

// Whether nothing is buffered now.
bool IsEmptyNow(Inbox& inbox);

}  // namespace inbox_test
}  // namespace context_internal
}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_INTERNAL_INBOX_TEST_UTIL_H_
