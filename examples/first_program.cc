// A first Tether program, as the README shows it: a root actor starts a
// child actor (this same binary, re-executed), calls a plain function
// there, and streams from a context function there.
//
//   bazel run //examples:first_program

// [START includes]
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tether/context.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/value.h"
// [END includes]

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Context;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

// [START callee]
// Plain: returns its arguments.
absl::StatusOr<Value> Echo(const Value& args) { return args; }
TETHER_REGISTER_PLAIN(echo, Echo);

// Context: Started, then 1..n on the stream, then n.
absl::StatusOr<Value> CountTo(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t n, args.AsInt());
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 1; i <= n; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
  }
  return Value::Int(n);
}
TETHER_REGISTER_CONTEXT(count_to, CountTo);
// [END callee]

// [START main]
absl::Status Main(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * worker, nursery.StartActor("worker"));
    TETHER_ASSIGN_OR_RETURN(Value echoed,
                            worker->Run("echo", Value::String("hi")));
    std::printf("worker echoed %s\n", echoed.ToJson().c_str());
    TETHER_RETURN_IF_ERROR(worker->OpenContext(
        "count_to", Value::Int(3),
        [](Context& ctx, const Value& started) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          std::string counted;
          for (const Value& v : stream) counted += v.ToJson() + " ";
          TETHER_RETURN_IF_ERROR(stream.status());
          TETHER_ASSIGN_OR_RETURN(Value result, ctx.Result());
          std::printf("counted %sand returned %s\n", counted.c_str(),
                      result.ToJson().c_str());
          return absl::OkStatus();
        }));
    nursery.CancelAll();
    return absl::OkStatus();
  });
}

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "first";
  return tether::RootMain(argc, argv, options, Main);
}
// [END main]
