// Streams, overruns and backpressure (docs/guide.md): a callee sends
// numbers as fast as it can to an opener that reads slowly. With the
// default options that would overrun the opener's buffer (see
// cancellation.cc, case 6); allow_overruns and backpressure each deliver
// every value, in order.
//
//   bazel run //docs:streams

#include <cstdint>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/context.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/msg_stream.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/value.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Context;
using tether::ContextOptions;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

constexpr int64_t kValues = 500;

// Sends 1..n as fast as the context lets it, then returns n.
absl::StatusOr<Value> Numbers(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t n, args.AsInt());
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 1; i <= n; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
  }
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(n);
}
TETHER_REGISTER_CONTEXT(numbers, Numbers);

// [START slow_reader]
// Reads every value, slowly, and checks that they arrive in order.
absl::Status ReadSlowly(Portal& worker, const ContextOptions& options,
                        const char* label) {
  return worker.OpenContext(
      "numbers", Value::Int(kValues),
      [&](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        int64_t expected = 1;
        for (const Value& value : stream) {
          if (value != Value::Int(expected)) {
            return absl::DataLossError("a value is missing");
          }
          ++expected;
          TETHER_RETURN_IF_ERROR(tether::Sleep(absl::Microseconds(200)));
        }
        TETHER_RETURN_IF_ERROR(stream.status());
        TETHER_ASSIGN_OR_RETURN(Value result, ctx.Result());
        std::printf("%s: %d values in order, result %s\n", label,
                    static_cast<int>(expected - 1), result.ToJson().c_str());
        return absl::OkStatus();
      },
      options);
}
// [END slow_reader]

// [START options]
absl::Status UseWorker(Portal& worker) {
  ContextOptions spill;
  spill.allow_overruns = true;  // overflow waits in a queue, in order
  TETHER_RETURN_IF_ERROR(ReadSlowly(worker, spill, "allow_overruns"));

  ContextOptions backpressure;
  backpressure.backpressure = true;  // a full buffer blocks the sender
  backpressure.buffer_size = 16;
  TETHER_RETURN_IF_ERROR(ReadSlowly(worker, backpressure, "backpressure"));
  return absl::OkStatus();
}
// [END options]

absl::Status Main(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * worker, nursery.StartActor("worker"));
    const absl::Status used = UseWorker(*worker);
    nursery.CancelAll();
    return used;
  });
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "root";
  return tether::RootMain(argc, argv, options, Main);
}
