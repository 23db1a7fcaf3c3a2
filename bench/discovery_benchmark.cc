// File: bench/discovery_benchmark.cc
//
// Discovery figures for both registry backends: the registrar a root actor
// embeds (an actor server in this process, over TCP loopback) and etcd
// (a single-member etcd this binary starts on free loopback ports, data on
// disk, see tests/support/local_etcd.h).
//
//   BM_FindActorEmbedded / BM_FindActorEtcd
//                            find_actor_us: one Registry::Find of a
//                            registered name, answered with its entry.
//   BM_Register1000Embedded / BM_Register1000Etcd
//                            register_1000_s: 1000 Hold + release pairs
//                            in a row (etcd: lease grant, put, revoke).
//
//   bazel run -c opt //bench:discovery_benchmark

#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/registry_clients.h"
#include "benchmark/benchmark.h"
#include "client/registry/registry.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/log.h"
#include "runtime/base/tree_token.h"
#include "runtime/base/uuid.h"
#include "server/actor_server.h"
#include "tests/support/local_etcd.h"
#include "tether/status_macros.h"

namespace tether {
namespace bench {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr int kRegistrations = 1000;

v1::RegistryEntry MakeEntry(const std::string& name) {
  v1::RegistryEntry entry;
  entry.mutable_actor()->mutable_id()->set_name(name);
  entry.mutable_actor()->mutable_id()->set_uuid(NewUuid());
  entry.mutable_actor()->add_addresses("127.0.0.1:1");
  entry.set_pid(getpid());
  return entry;
}

// The two registries, each started on first use and stopped when main()
// returns. Benchmarks run one at a time: not thread-safe.
class Backends {
 public:
  ~Backends() {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    root_.reset();
    etcd_.reset();
  }

  // The address of a root actor's embedded registrar.
  absl::StatusOr<std::string> Embedded() {
    if (server_ == nullptr && embedded_error_.ok()) {
      embedded_error_ = StartEmbedded();
    }
    TETHER_RETURN_IF_ERROR(embedded_error_);
    return server_->address().ToString();
  }

  // The registry address of an etcd of this process's own.
  absl::StatusOr<std::string> Etcd() {
    if (etcd_ == nullptr && etcd_error_.ok()) {
      absl::StatusOr<std::unique_ptr<LocalEtcd>> etcd = LocalEtcd::Start();
      if (etcd.ok()) {
        etcd_ = *std::move(etcd);
      } else {
        etcd_error_ = etcd.status();
      }
    }
    TETHER_RETURN_IF_ERROR(etcd_error_);
    return etcd_->registry_address();
  }

  // The token of the embedded registrar's tree.
  const TreeToken& token() const { return token_; }

 private:
  absl::Status StartEmbedded() {
    TETHER_ASSIGN_OR_RETURN(ActorIdentity identity,
                            ActorIdentity::Create("bench-root"));
    root_ = std::make_unique<ActorCore>(std::move(identity));
    root_->SetToken(token_);
    TETHER_ASSIGN_OR_RETURN(
        server_, ActorServer::Start(
                     root_.get(), *Address::Parse("127.0.0.1:0"),
                     [](const v1::ActorId&) {}, RegistryClients::Create()));
    return absl::OkStatus();
  }

  const TreeToken token_ = TreeToken::Generate();
  std::unique_ptr<ActorCore> root_;
  std::unique_ptr<ActorServer> server_;
  absl::Status embedded_error_;
  std::unique_ptr<LocalEtcd> etcd_;
  absl::Status etcd_error_;
};

// Set by main() for the benchmarks' run.
Backends* backends = nullptr;

absl::StatusOr<std::unique_ptr<Registry>> Connect(
    const absl::StatusOr<std::string>& address) {
  if (!address.ok()) return address.status();
  return ConnectRegistry(*address, backends->token());
}

void FindActor(benchmark::State& state,
               const absl::StatusOr<std::string>& address) {
  absl::StatusOr<std::unique_ptr<Registry>> registry = Connect(address);
  if (!registry.ok()) {
    state.SkipWithError(registry.status().ToString().c_str());
    return;
  }
  const std::string name = absl::StrCat("target-", NewUuid());
  absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
      (*registry)->Hold(MakeEntry(name), absl::Now() + kCallTimeout);
  if (!held.ok()) {
    state.SkipWithError(held.status().ToString().c_str());
    return;
  }
  const absl::Time start = absl::Now();
  for (auto _ : state) {
    absl::StatusOr<std::vector<v1::RegistryEntry>> found =
        (*registry)->Find(name, absl::Now() + kCallTimeout);
    if (!found.ok() || found->empty()) {
      state.SkipWithError(found.ok() ? "the registered name was not found"
                                     : found.status().ToString().c_str());
      return;
    }
  }
  state.counters["find_actor_us"] =
      benchmark::Counter(absl::ToDoubleMicroseconds(absl::Now() - start),
                         benchmark::Counter::kAvgIterations);
}

void Register1000(benchmark::State& state,
                  const absl::StatusOr<std::string>& address) {
  absl::StatusOr<std::unique_ptr<Registry>> registry = Connect(address);
  if (!registry.ok()) {
    state.SkipWithError(registry.status().ToString().c_str());
    return;
  }
  std::vector<v1::RegistryEntry> entries;
  for (int i = 0; i < kRegistrations; ++i) {
    entries.push_back(MakeEntry(absl::StrCat("churn-", i)));
  }
  const absl::Time start = absl::Now();
  for (auto _ : state) {
    for (const v1::RegistryEntry& entry : entries) {
      absl::StatusOr<std::unique_ptr<Registry::Registration>> held =
          (*registry)->Hold(entry, absl::Now() + kCallTimeout);
      if (!held.ok()) {
        state.SkipWithError(held.status().ToString().c_str());
        return;
      }
    }
  }
  state.counters["register_1000_s"] =
      benchmark::Counter(absl::ToDoubleSeconds(absl::Now() - start),
                         benchmark::Counter::kAvgIterations);
}

void BM_FindActorEmbedded(benchmark::State& state) {
  FindActor(state, backends->Embedded());
}
BENCHMARK(BM_FindActorEmbedded)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_FindActorEtcd(benchmark::State& state) {
  FindActor(state, backends->Etcd());
}
BENCHMARK(BM_FindActorEtcd)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Register1000Embedded(benchmark::State& state) {
  Register1000(state, backends->Embedded());
}
BENCHMARK(BM_Register1000Embedded)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_Register1000Etcd(benchmark::State& state) {
  Register1000(state, backends->Etcd());
}
BENCHMARK(BM_Register1000Etcd)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // The embedded registrar logs every registration; thousands of lines
  // would bury the figures.
  SetLogLevel(LogLevel::kWarning);
  Backends started_on_demand;
  backends = &started_on_demand;
  benchmark::RunSpecifiedBenchmarks();
  backends = nullptr;
  benchmark::Shutdown();
  return 0;
}

}  // namespace bench
}  // namespace tether

int main(int argc, char** argv) { return tether::bench::Main(argc, argv); }
