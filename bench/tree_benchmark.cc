// File: bench/tree_benchmark.cc
//
// Actor-tree figures. This binary is also every child it spawns: main()
// enters child mode first.
//
//   BM_Spawn16           spawn16_s: start 16 daemons, have each answer one
//                        call, cancel them all and reap them.
//   BM_TeardownDepth3    teardown_depth3_s: cancel a binary tree of depth 3
//                        (14 actors below the root) until every process is
//                        reaped.
//   BM_IdleActorRss      idle_actor_rss_mb: resident memory (VmRSS) of one
//                        idle child actor; idle_actor_anon_mb: the part
//                        private to it (RssAnon: heap, stacks, and the
//                        library data the loader relocated).
//
//   bazel run -c opt //bench:tree_benchmark

#include <sys/types.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "client/actor_client.h"
#include "server/actor_server.h"
#include "tether/main.h"
#include "tether/nursery.h"
#include "tether/status_macros.h"

namespace tether {
namespace bench {
namespace {

// Starts two children that grow the tree `depth - 1` further, sends
// Started once the whole subtree is up, then waits to be cancelled.
absl::StatusOr<Value> Grow(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(int64_t depth, args.AsInt());
  if (depth <= 0) {
    TETHER_RETURN_IF_ERROR(ctx.Started());
    while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
  }
  ActorCore* self = ActorCore::Current();
  absl::Status status =
      ActorNursery::Open(self, [&](ActorNursery& nursery) -> absl::Status {
        TaskGroup subtrees(/*cancel_on_error=*/true);
        absl::Notification all_up;
        std::atomic<int> up{0};
        for (int i = 0; i < 2; ++i) {
          TETHER_ASSIGN_OR_RETURN(
              Portal * child,
              nursery.StartActor(absl::StrCat("d", depth, "-", i)));
          subtrees.Spawn("subtree", [&, child]() -> absl::Status {
            return child->OpenContext(
                "grow", Value::Int(depth - 1),
                [&](Context& sub, const Value&) -> absl::Status {
                  if (++up == 2) all_up.Notify();
                  while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
                });
          });
        }
        while (!all_up.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
          TETHER_RETURN_IF_ERROR(CheckCancelled());
        }
        TETHER_RETURN_IF_ERROR(ctx.Started());
        return subtrees.Wait();
      });
  return status;
}
TETHER_REGISTER_CONTEXT(grow, Grow);

absl::StatusOr<Value> Echo(const Value& args) { return args; }
TETHER_REGISTER_PLAIN(echo_for_bench, Echo);

class Root {
 public:
  static absl::StatusOr<std::unique_ptr<Root>> Start() {
    auto root = std::unique_ptr<Root>(new Root());
    TETHER_ASSIGN_OR_RETURN(ActorIdentity identity,
                            ActorIdentity::Create("bench-root"));
    root->runtime_ = std::make_unique<ActorCore>(identity);
    TETHER_ASSIGN_OR_RETURN(Address loopback, Address::Parse("127.0.0.1:0"));
    TETHER_ASSIGN_OR_RETURN(root->server_, ActorServer::Start(
                                               root->runtime_.get(), loopback,
                                               [](const auto&) {}, nullptr));
    return root;
  }
  ~Root() { server_->Shutdown(absl::Milliseconds(100)); }
  ActorCore* runtime() { return runtime_.get(); }

 private:
  Root() = default;
  std::unique_ptr<ActorCore> runtime_;
  std::unique_ptr<ActorServer> server_;
};

std::unique_ptr<Root> StartOrSkip(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<Root>> root = Root::Start();
  if (!root.ok()) {
    state.SkipWithError(root.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(root);
}

void BM_Spawn16(benchmark::State& state) {
  std::unique_ptr<Root> root = StartOrSkip(state);
  if (root == nullptr) return;
  double seconds = 0;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    const absl::Status status = ActorNursery::Open(
        root->runtime(), [](ActorNursery& nursery) -> absl::Status {
          TaskGroup calls(/*cancel_on_error=*/true);
          for (int i = 0; i < 16; ++i) {
            TETHER_ASSIGN_OR_RETURN(
                Portal * child, nursery.StartActor(absl::StrCat("worker-", i)));
            calls.Spawn("call", [child] {
              return child->Run("echo_for_bench", Value::Int(1)).status();
            });
          }
          TETHER_RETURN_IF_ERROR(calls.Wait());
          nursery.CancelAll();
          return absl::OkStatus();
        });
    seconds += absl::ToDoubleSeconds(absl::Now() - start);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.counters["spawn16_s"] =
      seconds / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Spawn16)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_TeardownDepth3(benchmark::State& state) {
  std::unique_ptr<Root> root = StartOrSkip(state);
  if (root == nullptr) return;
  double seconds = 0;
  for (auto _ : state) {
    absl::Time cancelled;
    const absl::Status status = ActorNursery::Open(
        root->runtime(), [&](ActorNursery& nursery) -> absl::Status {
          TaskGroup trees;
          absl::Notification up[2];
          for (int i = 0; i < 2; ++i) {
            TETHER_ASSIGN_OR_RETURN(Portal * child,
                                    nursery.StartActor(absl::StrCat("d3-", i)));
            trees.Spawn("tree", [&, child, i]() -> absl::Status {
              return child->OpenContext(
                  "grow", Value::Int(2),
                  [&](Context&, const Value&) -> absl::Status {
                    up[i].Notify();
                    while (true) TETHER_RETURN_IF_ERROR(Sleep(absl::Hours(1)));
                  });
            });
          }
          for (absl::Notification& n : up) n.WaitForNotification();
          cancelled = absl::Now();
          nursery.CancelAll();
          trees.Wait().IgnoreError();
          return absl::OkStatus();
        });
    seconds += absl::ToDoubleSeconds(absl::Now() - cancelled);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.counters["teardown_depth3_s"] =
      seconds / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TeardownDepth3)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A field of /proc/`pid`/status given in kB (VmRSS, RssAnon), in
// megabytes (1e6 bytes).
absl::StatusOr<double> StatusMegabytes(int64_t pid, absl::string_view field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, absl::StrCat(field, ":"))) continue;
    std::vector<std::string> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t kb = 0;
    if (fields.size() >= 2 && absl::SimpleAtoi(fields[1], &kb)) {
      return static_cast<double>(kb) * 1024 / 1e6;
    }
  }
  return absl::NotFoundError(absl::StrCat("no ", field, " for pid ", pid));
}

void BM_IdleActorRss(benchmark::State& state) {
  std::unique_ptr<Root> root = StartOrSkip(state);
  if (root == nullptr) return;
  double megabytes = 0;
  double anonymous = 0;
  for (auto _ : state) {
    const absl::Status status = ActorNursery::Open(
        root->runtime(), [&](ActorNursery& nursery) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(Portal * child, nursery.StartActor("idle"));
          TETHER_ASSIGN_OR_RETURN(
              v1::ActorInfo info,
              ActorClient::Dial(child->address(), root->runtime()->token())
                  .Info(absl::Seconds(5)));
          TETHER_ASSIGN_OR_RETURN(megabytes,
                                  StatusMegabytes(info.pid(), "VmRSS"));
          TETHER_ASSIGN_OR_RETURN(anonymous,
                                  StatusMegabytes(info.pid(), "RssAnon"));
          nursery.CancelAll();
          return absl::OkStatus();
        });
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.counters["idle_actor_rss_mb"] = megabytes;
  // Of which the pages private to the child; the rest are pages of files it
  // maps (its own binary, libc, libstdc++), shared with every process that
  // maps them.
  state.counters["idle_actor_anon_mb"] = anonymous;
}
BENCHMARK(BM_IdleActorRss)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace tether

int main(int argc, char** argv) {
  if (std::optional<int> code = tether::RunAsChildIfSpawned(argc, argv)) {
    return *code;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
