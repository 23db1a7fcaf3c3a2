// Writing actor functions (docs/guide.md): a plain function, a context
// function that streams both ways, a function with a typed protobuf
// argument and one that throws. The root starts a child actor (this same
// binary, so it has every function registered here) and calls each.
//
//   bazel run //docs:functions

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "docs/snippets/greeting.pb.h"
#include "docs/snippets/support.h"
#include "tether/context.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/msg_stream.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/value.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Context;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

// [START plain]
// Plain: arguments in, one value (or an error) out.
absl::StatusOr<Value> Greet(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value name, args.Field("name"));
  TETHER_ASSIGN_OR_RETURN(std::string text, name.AsString());
  return Value::String(absl::StrCat("hello, ", text));
}
TETHER_REGISTER_PLAIN(greet, Greet);
// [END plain]

// [START context]
// Context: Started once, then a stream both ways, then the result.
absl::StatusOr<Value> RunningSum(Context& ctx, const Value& args) {
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::String("ready")));
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t sum = 0;
  for (const Value& value : stream) {  // until the opener closes its side
    TETHER_ASSIGN_OR_RETURN(int64_t n, value.AsInt());
    sum += n;
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(sum)));
  }
  TETHER_RETURN_IF_ERROR(stream.status());  // an error, not the end
  return Value::Int(sum);
}
TETHER_REGISTER_CONTEXT(running_sum, RunningSum);
// [END context]

// [START typed]
// Typed: the argument must be a guide.v1.Greeting message; any other
// value is refused before the function runs.
TETHER_REGISTER_PLAIN(
    greet_typed,
    tether::TypedPlain<guide::v1::Greeting>(
        [](const guide::v1::Greeting& greeting) -> absl::StatusOr<Value> {
          std::string text;
          for (int i = 0; i < greeting.times(); ++i) {
            absl::StrAppend(&text, "hello, ", greeting.name(), "! ");
          }
          return Value::String(text);
        }));
// [END typed]

// [START throws]
// An exception is caught at the task boundary and boxed with its type.
absl::StatusOr<Value> ParsePort(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string text, args.AsString());
  return Value::Int(std::stoi(text));  // throws std::invalid_argument
}
TETHER_REGISTER_PLAIN(parse_port, ParsePort);
// [END throws]

// [START opener]
absl::Status UseWorker(Portal& worker) {
  // A plain function: Run returns its value or its (relayed) error.
  TETHER_ASSIGN_OR_RETURN(
      Value hello,
      worker.Run("greet", Value::Object({{"name", Value::String("Ada")}})));
  std::printf("greet: %s\n", hello.ToJson().c_str());

  // A context function: the block runs once Started has arrived.
  TETHER_RETURN_IF_ERROR(worker.OpenContext(
      "running_sum", Value(),
      [](Context& ctx, const Value& started) -> absl::Status {
        std::printf("started: %s\n", started.ToJson().c_str());
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        for (int64_t n = 1; n <= 4; ++n) {
          TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(n)));
          TETHER_ASSIGN_OR_RETURN(Value sum, stream.Receive());
          std::printf("sent %d, sum %s\n", static_cast<int>(n),
                      sum.ToJson().c_str());
        }
        TETHER_RETURN_IF_ERROR(stream.Close());  // our side is done
        TETHER_ASSIGN_OR_RETURN(Value total, ctx.Result());
        std::printf("result: %s\n", total.ToJson().c_str());
        return absl::OkStatus();
      }));

  // Typed values: any protobuf message.
  guide::v1::Greeting greeting;
  greeting.set_name("Grace");
  greeting.set_times(2);
  TETHER_ASSIGN_OR_RETURN(Value typed,
                          worker.Run("greet_typed", Value::Message(greeting)));
  std::printf("greet_typed: %s\n", typed.ToJson().c_str());
  absl::StatusOr<Value> refused =
      worker.Run("greet_typed", Value::String("Grace"));
  std::printf("greet_typed with a string: %s\n",
              guide::Outcome(refused.status()).c_str());

  // Errors come back boxed: type, message, source actor.
  absl::StatusOr<Value> port = worker.Run("parse_port", Value::String("http"));
  std::printf("parse_port: %s\n", guide::Outcome(port.status()).c_str());
  return absl::OkStatus();
}
// [END opener]

absl::Status Main(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * worker, nursery.StartActor("worker"));
    const absl::Status used = UseWorker(*worker);
    nursery.CancelAll();  // the worker is a daemon: it runs until cancelled
    return used;
  });
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "root";
  return tether::RootMain(argc, argv, options, Main);
}
