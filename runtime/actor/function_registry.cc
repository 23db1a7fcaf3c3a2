#include "tether/function_registry.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace tether {

FunctionRegistry& FunctionRegistry::Global() {
  static FunctionRegistry* registry = new FunctionRegistry();
  return *registry;
}

absl::Status FunctionRegistry::RegisterPlain(std::string name,
                                             PlainFunction body,
                                             ArgumentCheck check) {
  RegisteredFunction function;
  function.name = std::move(name);
  function.kind = v1::FUNCTION_KIND_PLAIN;
  function.plain = std::move(body);
  function.check = std::move(check);
  return Add(std::move(function));
}

absl::Status FunctionRegistry::RegisterContext(std::string name,
                                               ContextFunction body,
                                               ArgumentCheck check) {
  RegisteredFunction function;
  function.name = std::move(name);
  function.kind = v1::FUNCTION_KIND_CONTEXT;
  function.context = std::move(body);
  function.check = std::move(check);
  return Add(std::move(function));
}

absl::StatusOr<RegisteredFunction> FunctionRegistry::Find(
    absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = functions_.find(name);
  if (it == functions_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no function named '", name, "' is registered"));
  }
  return it->second;
}

std::vector<std::string> FunctionRegistry::Names() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  names.reserve(functions_.size());
  for (const auto& entry : functions_) names.push_back(entry.first);
  return names;
}

absl::Status FunctionRegistry::Add(RegisteredFunction function) {
  if (function.name.empty()) {
    return absl::InvalidArgumentError("a function needs a non-empty name");
  }
  absl::MutexLock lock(&mu_);
  const std::string name = function.name;
  if (!functions_.emplace(name, std::move(function)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("a function named '", name, "' is already registered"));
  }
  return absl::OkStatus();
}

namespace function_registry_internal {

void CheckStaticRegistration(const absl::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "tether: function registration failed: %s\n",
               std::string(status.message()).c_str());
  std::abort();
}

}  // namespace function_registry_internal
}  // namespace tether
