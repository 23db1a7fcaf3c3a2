// The interop set: functions every actor_node serves, for clients in other
// languages and for tests. docs/protocol.md documents their JSON arguments.
//
//   echo           plain    returns its argument unchanged
//   counter        context  {"n": N}: Started(0), streams 1..N, returns N
//   echo_stream    context  Started(null), echoes each value until the
//                           opener stops, returns how many it echoed
//   sleep_forever  context  Started(null), then waits until cancelled
//   fail           plain    {"type": T, "message": M}: fails with an error
//                           whose boxed type is T and message M
//   call_peer      plain    {"address": A, "function": F, "args": X}: runs
//                           the plain function F on the actor at A and
//                           returns its result or relays its error; A must
//                           be an address registered in this actor's
//                           registry (the node dials nothing else)

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/actor/actor_core.h"
#include "tether/context.h"
#include "tether/discovery.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/value.h"

namespace tether {
namespace {

absl::StatusOr<std::string> StringField(const Value& args,
                                        absl::string_view name) {
  TETHER_ASSIGN_OR_RETURN(Value field, args.Field(name));
  return field.AsString();
}

// Whether an entry of `entries` lists `address`.
bool RegisteredAt(const std::vector<v1::RegistryEntry>& entries,
                  const Address& address) {
  for (const v1::RegistryEntry& entry : entries) {
    for (const std::string& text : entry.actor().addresses()) {
      absl::StatusOr<Address> listed = Address::Parse(text);
      if (listed.ok() && *listed == address) return true;
    }
  }
  return false;
}

absl::Status CheckCounterArgs(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value n_field, args.Field("n"));
  TETHER_ASSIGN_OR_RETURN(int64_t n, n_field.AsInt());
  if (n < 0) return absl::InvalidArgumentError("\"n\" must not be negative");
  return absl::OkStatus();
}

absl::Status CheckFailArgs(const Value& args) {
  TETHER_RETURN_IF_ERROR(StringField(args, "type").status());
  return StringField(args, "message").status();
}

absl::Status CheckCallPeerArgs(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string address, StringField(args, "address"));
  TETHER_RETURN_IF_ERROR(Address::Parse(address).status());
  return StringField(args, "function").status();
}

absl::StatusOr<Value> Echo(const Value& args) { return args; }

absl::StatusOr<Value> Counter(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value n_field, args.Field("n"));
  TETHER_ASSIGN_OR_RETURN(int64_t n, n_field.AsInt());
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(0)));
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 1; i <= n; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
  }
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(n);
}

absl::StatusOr<Value> EchoStream(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  int64_t echoed = 0;
  for (const Value& value : stream) {
    TETHER_RETURN_IF_ERROR(stream.Send(value));
    ++echoed;
  }
  TETHER_RETURN_IF_ERROR(stream.status());
  TETHER_RETURN_IF_ERROR(stream.Close());
  return Value::Int(echoed);
}

absl::StatusOr<Value> SleepForever(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(24)));
}

absl::StatusOr<Value> Fail(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(std::string type, StringField(args, "type"));
  TETHER_ASSIGN_OR_RETURN(std::string message, StringField(args, "message"));
  ActorCore* self = ActorCore::Current();
  v1::ErrorInfo info;
  info.set_kind(v1::ERROR_KIND_APPLICATION);
  info.set_type(type);
  info.set_message(message);
  if (self != nullptr) {
    *info.mutable_source() = self->id();
    *info.add_relay_path() = self->id();
  }
  return MakeError(info);
}

absl::StatusOr<Value> CallPeer(const Value& args) {
  ActorCore* self = ActorCore::Current();
  if (self == nullptr) {
    return absl::FailedPreconditionError("call_peer runs only in an actor");
  }
  TETHER_ASSIGN_OR_RETURN(std::string address_text,
                          StringField(args, "address"));
  TETHER_ASSIGN_OR_RETURN(Address address, Address::Parse(address_text));
  TETHER_ASSIGN_OR_RETURN(std::string function, StringField(args, "function"));
  // The allow rule: only actors this tree registered, so a caller cannot
  // make the node dial (and present the tree's token to) a host of its
  // choosing.
  TETHER_ASSIGN_OR_RETURN(std::vector<v1::RegistryEntry> entries,
                          GetRegistry(self));
  if (!RegisteredAt(entries, address)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "call_peer dials only actors registered in this actor's registry; "
        "none is registered at ",
        address_text));
  }
  absl::StatusOr<Value> call_args = args.Field("args");
  Portal portal(self, address);
  return portal.Run(function, call_args.ok() ? *call_args : Value());
}

TETHER_REGISTER_PLAIN(echo, Echo);
TETHER_REGISTER_CONTEXT_CHECKED(counter, Counter, CheckCounterArgs);
TETHER_REGISTER_CONTEXT(echo_stream, EchoStream);
TETHER_REGISTER_CONTEXT(sleep_forever, SleepForever);
TETHER_REGISTER_PLAIN_CHECKED(fail, Fail, CheckFailArgs);
TETHER_REGISTER_PLAIN_CHECKED(call_peer, CallPeer, CheckCallPeerArgs);

}  // namespace
}  // namespace tether
