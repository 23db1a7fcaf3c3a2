// Quickstart: a small actor tree, its contexts, an error and a cancel.
//
//   bazel run //examples:quickstart
//
// The root starts two workers and streams numbers through a context with
// each (the workers square them), asks a middle actor to run a job in a
// grandchild that fails (the error comes back with its relay path), cancels
// a context (the ContextCancelled names the root as canceller), then
// cancels the tree and prints a summary. Every actor is this same binary,
// re-executed in child mode.

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tether/context.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"

// What the grandchild's job raises on bad input. A function may throw: the
// runtime boxes the exception with its type name and message, as tractor
// boxes a Python exception.
class ValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Context;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

// Worker: squares every number the opener streams, returns how many.
absl::StatusOr<Value> SquareStream(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::String("ready")));
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t count = 0;
  for (const Value& value : stream) {
    TETHER_ASSIGN_OR_RETURN(int64_t n, value.AsInt());
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(n * n)));
    ++count;
  }
  TETHER_RETURN_IF_ERROR(stream.status());
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(count);
}
TETHER_REGISTER_CONTEXT(square_stream, SquareStream);

// Worker: does nothing until it is cancelled.
absl::StatusOr<Value> SleepForever(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  while (true) TETHER_RETURN_IF_ERROR(tether::Sleep(absl::Hours(24)));
}
TETHER_REGISTER_CONTEXT(sleep_forever, SleepForever);

// Grandchild: a job that rejects its input.
absl::StatusOr<Value> CheckInput(const Value& input) {
  throw ValueError("bad input " + input.ToJson());
}
TETHER_REGISTER_PLAIN(check_input, CheckInput);

// Middle actor: runs a failing job in a grandchild of its own; the
// grandchild's error comes back through this actor.
absl::StatusOr<Value> DelegateFailure(const Value&) {
  ActorRuntime* self = ActorRuntime::Current();
  absl::Status status =
      ActorNursery::Open(self, [](ActorNursery& nursery) -> absl::Status {
        return nursery.RunInActor("grandchild", "check_input", Value::Int(42))
            .status();
      });
  if (!status.ok()) return status;
  return Value::String("the job did not fail");
}
TETHER_REGISTER_PLAIN(delegate_failure, DelegateFailure);

std::string Path(const tether::v1::ErrorInfo& info) {
  std::vector<std::string> hops;
  for (const tether::v1::ActorId& hop : info.relay_path()) {
    hops.push_back(hop.name());
  }
  return absl::StrJoin(hops, " -> ");
}

absl::Status Demo(ActorRuntime& root) {
  int contexts = 0;
  int squared = 0;
  std::string relayed;
  std::string cancelled;
  TETHER_RETURN_IF_ERROR(
      ActorNursery::Open(&root, [&](ActorNursery& nursery) -> absl::Status {
        std::vector<Portal*> workers;
        for (const char* name : {"worker-1", "worker-2"}) {
          TETHER_ASSIGN_OR_RETURN(Portal * worker, nursery.StartActor(name));
          workers.push_back(worker);
          std::printf("started %s at %s\n", name,
                      worker->address().ToString().c_str());
        }
        for (size_t w = 0; w < workers.size(); ++w) {
          TETHER_RETURN_IF_ERROR(workers[w]->OpenContext(
              "square_stream", Value(),
              [&](Context& ctx, const Value&) -> absl::Status {
                TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
                for (int64_t n = 1; n <= 5; ++n) {
                  TETHER_RETURN_IF_ERROR(stream.Send(
                      Value::Int(n + 10 * static_cast<int64_t>(w))));
                }
                TETHER_RETURN_IF_ERROR(stream.Close());
                std::vector<std::string> results;
                for (const Value& v : stream) results.push_back(v.ToJson());
                TETHER_RETURN_IF_ERROR(stream.status());
                squared += static_cast<int>(results.size());
                std::printf("worker-%zu squared: %s\n", w + 1,
                            absl::StrJoin(results, " ").c_str());
                return absl::OkStatus();
              }));
          ++contexts;
        }

        TETHER_ASSIGN_OR_RETURN(Portal * middle, nursery.StartActor("middle"));
        absl::StatusOr<Value> job = middle->Run("delegate_failure");
        const std::optional<tether::v1::ErrorInfo> info =
            tether::GetErrorInfo(job.status());
        if (job.ok() || !info.has_value()) {
          return absl::InternalError("the grandchild's error did not arrive");
        }
        relayed =
            absl::StrCat(info->type(), ": ", info->message(), " (raised in ",
                         info->source().name(), ", relayed ", Path(*info), ")");
        std::printf("relayed error: %s\n", relayed.c_str());

        TETHER_RETURN_IF_ERROR(workers[0]->OpenContext(
            "sleep_forever", Value(),
            [&](Context& ctx, const Value&) -> absl::Status {
              ctx.Cancel();
              absl::Status outcome = ctx.Result().status();
              const std::optional<tether::v1::ErrorInfo> cancel =
                  tether::GetErrorInfo(outcome);
              if (!tether::IsContextCancelled(outcome) || !cancel.has_value()) {
                return absl::InternalError("the cancel was not confirmed");
              }
              cancelled = absl::StrCat("ContextCancelled, canceller ",
                                       cancel->canceller().name());
              std::printf("cancelled a context: %s\n", cancelled.c_str());
              return absl::OkStatus();
            }));
        ++contexts;
        nursery.CancelAll();
        return absl::OkStatus();
      }));
  std::printf(
      "summary: 5 actors (2 workers, middle, grandchild, root), %d contexts, "
      "%d values squared, 1 error relayed, 1 context cancelled, tree torn "
      "down\nquickstart: ok\n",
      contexts, squared);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "quickstart";
  return tether::RootMain(argc, argv, options, Demo);
}
