// Supervision (docs/guide.md): actor nurseries that collect results, one
// that a failing child cancels as a whole, and one whose errors come back
// as a group.
//
//   bazel run //docs:supervision

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "docs/snippets/support.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/value.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Portal;
using tether::Value;

absl::StatusOr<Value> Square(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t n, args.AsInt());
  return Value::Int(n * n);
}
TETHER_REGISTER_PLAIN(square, Square);

absl::StatusOr<Value> Validate(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t n, args.AsInt());
  if (n < 0) throw std::invalid_argument("negative input");
  return args;
}
TETHER_REGISTER_PLAIN(validate, Validate);

// [START run_in_actor]
absl::Status Squares(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    std::vector<Portal*> jobs;
    for (int64_t n = 1; n <= 3; ++n) {
      TETHER_ASSIGN_OR_RETURN(
          Portal * job, nursery.RunInActor(absl::StrCat("square-", n), "square",
                                           Value::Int(n)));
      jobs.push_back(job);
    }
    std::printf("squares:");
    for (Portal* job : jobs) {
      TETHER_ASSIGN_OR_RETURN(Value result, nursery.WaitResult(job));
      std::printf(" %s", result.ToJson().c_str());
    }
    std::printf("\n");
    return absl::OkStatus();  // each job's actor ends after its function
  });
}
// [END run_in_actor]

// [START one_cancels_all]
absl::Status OneFails(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    // A daemon runs until it is cancelled...
    TETHER_RETURN_IF_ERROR(nursery.StartActor("daemon").status());
    // ...which the validator's error does, as it would any sibling.
    return nursery.RunInActor("validator", "validate", Value::Int(-1)).status();
  });
}
// [END one_cancels_all]

// [START error_group]
absl::Status TwoErrors(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(
        Portal * validator,
        nursery.RunInActor("validator", "validate", Value::Int(-2)));
    if (!nursery.WaitResult(validator).ok()) {
      return absl::FailedPreconditionError("no valid input");
    }
    return absl::OkStatus();
  });
}
// [END error_group]

absl::Status Main(ActorRuntime& root) {
  TETHER_RETURN_IF_ERROR(Squares(root));
  std::printf("one fails: %s\n", guide::Outcome(OneFails(root)).c_str());
  std::printf("two errors: %s\n", guide::Outcome(TwoErrors(root)).c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "root";
  return tether::RootMain(argc, argv, options, Main);
}
