#include "runtime/context/internal/inbox_test_util.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace tether {

void PrintTo(const Value& value, std::ostream* os) { *os << value.ToJson(); }

namespace context_internal {

namespace inbox_test {

// A batch as it comes off the wire: the payloads first, first + 1, ...,
// count of them.
YieldBatch Ints(int64_t first, int64_t count) {
  YieldFrameBuilder frame;
  for (int64_t i = 0; i < count; ++i) frame.Append(Value::Int(first + i));
  const std::string bytes = std::move(frame).Finish();
  absl::StatusOr<YieldBatch> batch =
      YieldBatch::Parse(std::string(*LoneYieldOf(bytes)));
  EXPECT_TRUE(batch.ok()) << batch.status();
  return *std::move(batch);
}

// The next buffered payload as an integer, without waiting; a test failure
// (and -1) when there is none or it is not an integer.
int64_t TakeInt(Inbox& inbox) {
  absl::StatusOr<std::optional<Value>> value = inbox.TryReceive();
  if (!value.ok()) {
    ADD_FAILURE() << "TryReceive failed: " << value.status();
    return -1;
  }
  if (!value->has_value()) {
    ADD_FAILURE() << "TryReceive found nothing buffered";
    return -1;
  }
  absl::StatusOr<int64_t> n = (*value)->AsInt();
  if (!n.ok()) {
    ADD_FAILURE() << n.status();
    return -1;
  }
  return *n;
}

// Every payload buffered now, as integers, in the order received.
std::vector<int64_t> TakeAllInts(Inbox& inbox) {
  std::vector<int64_t> out;
  while (true) {
    absl::StatusOr<std::optional<Value>> value = inbox.TryReceive();
    if (!value.ok() || !value->has_value()) return out;
    absl::StatusOr<int64_t> n = (*value)->AsInt();
    out.push_back(n.ok() ? *n : -1);
  }
}

std::vector<int64_t> Range(int64_t first, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(first + i);
  return out;
}

bool IsEmptyNow(Inbox& inbox) {
  absl::StatusOr<std::optional<Value>> value = inbox.TryReceive();
  return value.ok() && !value->has_value();
}

}  // namespace inbox_test
}  // namespace context_internal
}  // namespace tether
