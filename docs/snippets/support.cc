#include "docs/snippets/support.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tether/errors.h"
#include "tether/v1/error.pb.h"

namespace guide {
namespace {

std::string Describe(const tether::v1::ErrorInfo& info) {
  std::string text = info.type();
  // The messages of the other kinds name actors by uuid, or repeat the
  // members of a group.
  if (info.kind() == tether::v1::ERROR_KIND_APPLICATION ||
      info.kind() == tether::v1::ERROR_KIND_BAD_ARGUMENT ||
      info.kind() == tether::v1::ERROR_KIND_NO_SUCH_FUNCTION) {
    absl::StrAppend(&text, ": ", info.message());
  }
  if (info.has_canceller()) {
    absl::StrAppend(&text, ", canceller ", info.canceller().name());
  }
  if (info.has_sender()) {
    absl::StrAppend(&text, ", sender ", info.sender().name());
  }
  absl::StrAppend(&text, ", source ", info.source().name());
  if (info.errors_size() > 0) {
    std::vector<std::string> members;
    for (const tether::v1::ErrorInfo& member : info.errors()) {
      members.push_back(Describe(member));
    }
    // The order of a group is the order its errors happened in.
    std::sort(members.begin(), members.end());
    absl::StrAppend(&text, " [", absl::StrJoin(members, "; "), "]");
  }
  return text;
}

}  // namespace

std::string Outcome(const absl::Status& status) {
  const std::optional<tether::v1::ErrorInfo> info =
      tether::GetErrorInfo(status);
  if (!info.has_value()) return tether::DescribeError(status);
  return Describe(*info);
}

}  // namespace guide
