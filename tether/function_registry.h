// File: tether/function_registry.h
//
// Functions an actor can run for its peers, by name. A *plain* function
// takes arguments and returns a result; a *context* function also receives
// the Context linking it to the opener, so it can send Started, stream and
// react to cancellation. Arguments and results are Values: JSON-shaped, or
// typed protobuf messages when the function is registered with message
// types (then arguments of the wrong type are refused before the function
// starts, with an error naming the expected type).
//
// Registration is usually static, so every process built from the same
// binary (including re-executed children) knows the same functions. A
// function may also throw: the exception is caught at the task boundary and
// boxed (demangled type name and what()).
//
// clang-format off
// Example:
//
//   // A plain function: returns its arguments.
//   TETHER_REGISTER_PLAIN(echo_back,
//                         [](const Value& args) -> absl::StatusOr<Value> {
//                           return args;
//                         });
//
//   // A context function: Started, then one value on the stream.
//   absl::StatusOr<Value> Hello(Context& ctx, const Value& args) {
//     TETHER_RETURN_IF_ERROR(ctx.Started(Value::String("ready")));
//     TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
//     TETHER_RETURN_IF_ERROR(stream.Send(Value::String("hello")));
//     return Value::Int(1);
//   }
//   TETHER_REGISTER_CONTEXT(hello, Hello);
//
//   // Typed: the argument must be a tether.v1.ActorId message, or the call
//   // is refused before the function starts.
//   TETHER_REGISTER_PLAIN(
//       name_of, TypedPlain<v1::ActorId>(
//                    [](const v1::ActorId& id) -> absl::StatusOr<Value> {
//                      return Value::String(id.name());
//                    }));
// clang-format on
//
// Thread-safety: thread-safe.

#ifndef TETHER_FUNCTION_REGISTRY_H_
#define TETHER_FUNCTION_REGISTRY_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tether/v1/frame.pb.h"
#include "tether/value.h"

namespace tether {

class Context;

using PlainFunction = std::function<absl::StatusOr<Value>(const Value& args)>;
using ContextFunction =
    std::function<absl::StatusOr<Value>(Context& ctx, const Value& args)>;

// Checks arguments before the function starts; InvalidArgument names what
// was expected.
using ArgumentCheck = std::function<absl::Status(const Value& args)>;

struct RegisteredFunction {
  std::string name;
  v1::FunctionKind kind = v1::FUNCTION_KIND_UNSPECIFIED;
  PlainFunction plain;      // kind PLAIN
  ContextFunction context;  // kind CONTEXT
  ArgumentCheck check;      // may be empty: any Value is accepted
};

// A plain function whose argument is the protobuf message `Args`.
template <typename Args>
struct TypedPlain {
  explicit TypedPlain(std::function<absl::StatusOr<Value>(const Args&)> body)
      : body(std::move(body)) {}
  std::function<absl::StatusOr<Value>(const Args&)> body;
};

// A context function whose argument is the protobuf message `Args`.
template <typename Args>
struct TypedContext {
  explicit TypedContext(
      std::function<absl::StatusOr<Value>(Context&, const Args&)> body)
      : body(std::move(body)) {}
  std::function<absl::StatusOr<Value>(Context&, const Args&)> body;
};

class FunctionRegistry {
 public:
  // The registry that static registration fills and actors serve by
  // default.
  static FunctionRegistry& Global();

  // AlreadyExists when `name` is taken; InvalidArgument for an empty name.
  absl::Status RegisterPlain(std::string name, PlainFunction body,
                             ArgumentCheck check = nullptr);
  absl::Status RegisterContext(std::string name, ContextFunction body,
                               ArgumentCheck check = nullptr);

  template <typename Args>
  absl::Status RegisterPlain(std::string name, TypedPlain<Args> typed) {
    auto body = std::move(typed.body);
    return RegisterPlain(
        std::move(name),
        [body](const Value& args) -> absl::StatusOr<Value> {
          absl::StatusOr<Args> parsed = args.As<Args>();
          if (!parsed.ok()) return parsed.status();
          return body(*parsed);
        },
        CheckMessage<Args>());
  }

  template <typename Args>
  absl::Status RegisterContext(std::string name, TypedContext<Args> typed) {
    auto body = std::move(typed.body);
    return RegisterContext(
        std::move(name),
        [body](Context& ctx, const Value& args) -> absl::StatusOr<Value> {
          absl::StatusOr<Args> parsed = args.As<Args>();
          if (!parsed.ok()) return parsed.status();
          return body(ctx, *parsed);
        },
        CheckMessage<Args>());
  }

  // The function named `name`, or NotFound.
  absl::StatusOr<RegisteredFunction> Find(absl::string_view name) const;

  // Every registered name, sorted.
  std::vector<std::string> Names() const;

 private:
  template <typename Args>
  static ArgumentCheck CheckMessage() {
    return [](const Value& args) { return args.As<Args>().status(); };
  }

  absl::Status Add(RegisteredFunction function);

  mutable absl::Mutex mu_;
  std::map<std::string, RegisteredFunction, std::less<>> functions_
      ABSL_GUARDED_BY(mu_);
};

namespace function_registry_internal {

// Register at static-initialization time; a duplicate name is a
// programming error and aborts with a message.
void CheckStaticRegistration(const absl::Status& status);

struct StaticPlainRegistration {
  template <typename Body>
  StaticPlainRegistration(const char* name, Body body) {
    CheckStaticRegistration(
        FunctionRegistry::Global().RegisterPlain(name, std::move(body)));
  }
  StaticPlainRegistration(const char* name, PlainFunction body,
                          ArgumentCheck check) {
    CheckStaticRegistration(FunctionRegistry::Global().RegisterPlain(
        name, std::move(body), std::move(check)));
  }
};

struct StaticContextRegistration {
  template <typename Body>
  StaticContextRegistration(const char* name, Body body) {
    CheckStaticRegistration(
        FunctionRegistry::Global().RegisterContext(name, std::move(body)));
  }
  StaticContextRegistration(const char* name, ContextFunction body,
                            ArgumentCheck check) {
    CheckStaticRegistration(FunctionRegistry::Global().RegisterContext(
        name, std::move(body), std::move(check)));
  }
};

}  // namespace function_registry_internal
}  // namespace tether

#define TETHER_REGISTRATION_CONCAT_INNER_(a, b) a##b
#define TETHER_REGISTRATION_CONCAT_(a, b) \
  TETHER_REGISTRATION_CONCAT_INNER_(a, b)

// Registers a plain function under the name `name` (an identifier) in the
// global registry. `body` is a PlainFunction or a TypedPlain<Args>.
#define TETHER_REGISTER_PLAIN(name, body)                                  \
  static ::tether::function_registry_internal::StaticPlainRegistration     \
  TETHER_REGISTRATION_CONCAT_(tether_plain_registration_, __LINE__)(#name, \
                                                                    body)

// As TETHER_REGISTER_PLAIN, with an ArgumentCheck run before the function
// starts: arguments it refuses are answered with a BadArgument error.
#define TETHER_REGISTER_PLAIN_CHECKED(name, body, check)               \
  static ::tether::function_registry_internal::StaticPlainRegistration \
  TETHER_REGISTRATION_CONCAT_(tether_plain_registration_, __LINE__)(   \
      #name, body, check)

// As TETHER_REGISTER_CONTEXT, with an ArgumentCheck.
#define TETHER_REGISTER_CONTEXT_CHECKED(name, body, check)               \
  static ::tether::function_registry_internal::StaticContextRegistration \
  TETHER_REGISTRATION_CONCAT_(tether_context_registration_, __LINE__)(   \
      #name, body, check)

// Registers a context function; `body` is a ContextFunction or a
// TypedContext<Args>.
#define TETHER_REGISTER_CONTEXT(name, body)                                  \
  static ::tether::function_registry_internal::StaticContextRegistration     \
  TETHER_REGISTRATION_CONCAT_(tether_context_registration_, __LINE__)(#name, \
                                                                      body)

#endif  // TETHER_FUNCTION_REGISTRY_H_
