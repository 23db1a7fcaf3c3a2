// Discovery (docs/guide.md): the root hosts the registrar; every actor of
// its tree registers there by name. Lookups by name, the newest-first rule
// for names that repeat, and waiting for a name to appear.
//
//   bazel run //docs:discovery

#include "tether/discovery.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/actor_runtime.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/registrar.pb.h"
#include "tether/value.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Portal;
using tether::Value;

// The serving actor's own name.
absl::StatusOr<Value> Hello(const Value&) {
  return Value::String(ActorRuntime::Current()->id().name());
}
TETHER_REGISTER_PLAIN(hello, Hello);

// [START find]
absl::Status FindByName(ActorRuntime& root, ActorNursery& nursery) {
  TETHER_RETURN_IF_ERROR(nursery.StartActor("worker").status());
  TETHER_ASSIGN_OR_RETURN(Portal * newer, nursery.StartActor("worker"));
  // Two actors named "worker": a lookup returns the newest that answers.
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Portal> found,
                          tether::FindActor(&root, "worker"));
  const bool newest =
      found->address().ToString() == newer->address().ToString();
  std::printf("FindActor(worker): the %s one\n", newest ? "newer" : "older");
  // An unknown name is not an error: the portal is null.
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Portal> nobody,
                          tether::FindActor(&root, "nobody"));
  std::printf("FindActor(nobody): %s\n", nobody ? "found" : "null");
  return absl::OkStatus();
}
// [END find]

// [START wait]
absl::Status WaitForName(ActorRuntime& root, ActorNursery& nursery) {
  tether::TaskGroup tasks;
  tasks.Spawn("waiter", [&root]() -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(
        std::unique_ptr<Portal> gretchen,
        tether::WaitForActor(&root, "gretchen", absl::Seconds(10)));
    TETHER_ASSIGN_OR_RETURN(Value name, gretchen->Run("hello"));
    std::printf("WaitForActor(gretchen): %s answered\n", name.ToJson().c_str());
    return absl::OkStatus();
  });
  // She registers after the waiter started waiting for her.
  TETHER_RETURN_IF_ERROR(nursery.StartActor("gretchen").status());
  return tasks.Wait();
}
// [END wait]

absl::Status Main(ActorRuntime& root) {
  return ActorNursery::Open(&root, [&root](ActorNursery& nursery) {
    absl::Status status = FindByName(root, nursery);
    if (status.ok()) status = WaitForName(root, nursery);
    if (status.ok()) {
      absl::StatusOr<std::vector<tether::v1::RegistryEntry>> entries =
          tether::GetRegistry(&root);
      if (!entries.ok()) return entries.status();
      std::printf("registered:");
      for (const tether::v1::RegistryEntry& entry : *entries) {
        std::printf(" %s", entry.actor().id().name().c_str());
      }
      std::printf("\n");
    }
    nursery.CancelAll();
    return status;
  });
}

}  // namespace

int main(int argc, char** argv) {
  tether::RootOptions options;
  options.name = "root";
  return tether::RootMain(argc, argv, options, Main);
}
