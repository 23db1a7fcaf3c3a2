// File: tests/discovery/discovery_root.cc
//
// The root program of discovery_teardown_test, after tractor's
// test_subactors_unregister_on_cancel: a tether::RootMain whose tree
// registers, is torn down, and then reports what the registry still holds.
//
//   discovery_root --trigger=sigint|fail --streams=yes|no [--registry=ADDR]
//
// The root starts three children, a0, a1 and a2, which register with ADDR
// (or with the root's own registrar when there is no --registry). Without
// streams each runs a function that sleeps until cancelled. With streams
// they are daemons: the root streams from a0 and a1, and a2 finds a0 by
// name, streams from it and forwards what it gets to the root. Once every
// child is registered (and every stream flows) the root prints `observed
// ready=yes`. Then the test sends SIGINT (--trigger=sigint), or the root's
// block fails on its own (--trigger=fail), cancelling the open streams
// and the nursery. Once the nursery has ended, the root looks at the
// registry until no entry of its children is left, for up to 5 s.
//
// Printed as `observed KEY=VALUE` lines, flushed at once:
//   root_uuid   the root's uuid
//   children    the children's uuids, comma-separated
//   registered  how many entries the registry held once all were up
//   ready       yes: the tree is up; trigger now
//   left        the entries left after the teardown, "name[uuid]" sorted
//               by name, comma-separated
//   clean       yes once no child's entry is left; no at the deadline
//
// Exit codes are RootMain's: 130 after SIGINT, 1 after the failing block.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/actor_client.h"
#include "runtime/actor/actor_core.h"
#include "runtime/task/wait.h"
#include "testing/poll_until.h"
#include "tether/context.h"
#include "tether/discovery.h"
#include "tether/errors.h"
#include "tether/function_registry.h"
#include "tether/main.h"
#include "tether/msg_stream.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/error.pb.h"
#include "tether/v1/registrar.pb.h"
#include "tether/value.h"

namespace {

using tether::ActorCore;
using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Context;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

// How long the root waits for anything before it reports a hang instead.
constexpr absl::Duration kDeadline = absl::Seconds(20);
// After the teardown, how long the root looks for its children's entries
// to leave the registry.
constexpr absl::Duration kCleanWithin = absl::Seconds(5);
// Streams send at this pace: busy, and well inside the opener's buffer.
constexpr absl::Duration kSendInterval = absl::Milliseconds(5);
constexpr int kChildren = 3;

struct Flags {
  bool sigint = true;
  bool streams = false;
  std::string registry;  // empty: the root hosts the registrar
};

void Observe(absl::string_view key, absl::string_view value) {
  std::printf("observed %s=%s\n", std::string(key).c_str(),
              std::string(value).c_str());
  std::fflush(stdout);
}

absl::StatusOr<ActorCore*> Self() {
  ActorCore* self = ActorCore::Current();
  if (self == nullptr) {
    return absl::FailedPreconditionError("runs only in a serving task");
  }
  return self;
}

absl::Status SleepUntilCancelled() {
  while (true) TETHER_RETURN_IF_ERROR(tether::Sleep(absl::Hours(24)));
}

// --- Functions the children serve ---

// tractor's run_in_actor(trio.sleep_forever).
absl::StatusOr<Value> SleepForeverPlain(const Value&) {
  TETHER_RETURN_IF_ERROR(SleepUntilCancelled());
  return Value();
}
TETHER_REGISTER_PLAIN(sleep_until_cancelled, SleepForeverPlain);

// tractor's stream_forever: Started, then 0, 1, 2, ... until the context
// ends.
absl::StatusOr<Value> StreamForever(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started());
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 0;; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
    TETHER_RETURN_IF_ERROR(tether::Sleep(kSendInterval));
  }
}
TETHER_REGISTER_CONTEXT(stream_forever, StreamForever);

// {"name": N}: finds the actor named N by name, streams from it, and
// forwards every value to the opener; Started once the first value came.
absl::StatusOr<Value> ForwardFromNamed(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
  TETHER_ASSIGN_OR_RETURN(Value name_field, args.Field("name"));
  TETHER_ASSIGN_OR_RETURN(std::string name, name_field.AsString());
  TETHER_ASSIGN_OR_RETURN(std::unique_ptr<Portal> source,
                          tether::WaitForActor(self, name, kDeadline));
  TETHER_RETURN_IF_ERROR(source->OpenContext(
      "stream_forever", Value(),
      [&](Context& source_ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream in, source_ctx.OpenStream());
        TETHER_ASSIGN_OR_RETURN(Value first,
                                in.Receive(absl::Now() + kDeadline));
        TETHER_RETURN_IF_ERROR(ctx.Started());
        TETHER_ASSIGN_OR_RETURN(MsgStream out, ctx.OpenStream());
        TETHER_RETURN_IF_ERROR(out.Send(first));
        while (true) {
          TETHER_ASSIGN_OR_RETURN(Value value,
                                  in.Receive(absl::Now() + kDeadline));
          TETHER_RETURN_IF_ERROR(out.Send(value));
        }
      }));
  return Value();
}
TETHER_REGISTER_CONTEXT(forward_from_named, ForwardFromNamed);

// --- The root ---

// Counts streams whose first value arrived; the root waits for all.
class Flowing {
 public:
  void Arrived() {
    absl::MutexLock lock(&mu_);
    ++count_;
    waiters_.NotifyAll();
  }

  // A cancellation point.
  absl::Status AwaitAll(int count, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    const absl::Status waited = tether::AwaitLocked(
        mu_, waiters_,
        [this, count]()
            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= count; },
        deadline);
    if (!waited.ok()) {
      return absl::Status(waited.code(),
                          absl::StrCat(count_, " of ", count,
                                       " streams flowing: ", waited.message()));
    }
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  tether::WaitSet waiters_ ABSL_GUARDED_BY(mu_);
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

// Opens `function` on `portal` and receives from its stream until the
// context ends (cancelled, in this program); the first value counts in
// `flowing`.
absl::Status ReceiveUntilEnd(Portal* portal, const std::string& function,
                             Value args, Flowing* flowing) {
  return portal->OpenContext(
      function, std::move(args),
      [flowing](Context& ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
        TETHER_RETURN_IF_ERROR(
            stream.Receive(absl::Now() + kDeadline).status());
        flowing->Arrived();
        while (true) {
          TETHER_RETURN_IF_ERROR(
              stream.Receive(absl::Now() + kDeadline).status());
        }
      });
}

absl::Status ApplicationError(absl::string_view type,
                              absl::string_view message) {
  tether::v1::ErrorInfo info;
  info.set_kind(tether::v1::ERROR_KIND_APPLICATION);
  info.set_type(std::string(type));
  info.set_message(std::string(message));
  return tether::MakeError(info);
}

std::string Describe(const tether::v1::RegistryEntry& entry) {
  return absl::StrCat(entry.actor().id().name(), "[", entry.actor().id().uuid(),
                      "]");
}

// After the teardown: waits until the registry holds none of `children`,
// up to kCleanWithin, and reports what is left. Runs on a thread of its
// own, outside the body's task: after SIGINT that task is cancelled, and
// every lookup in it would return at once.
void ReportWhatIsLeft(ActorCore& root,
                      const std::vector<std::string>& children) {
  std::thread reporter([&root, &children] {
    std::vector<std::string> left;
    const bool clean = tether::PollUntil(absl::Now() + kCleanWithin, [&] {
      absl::StatusOr<std::vector<tether::v1::RegistryEntry>> entries =
          tether::GetRegistry(&root);
      if (!entries.ok()) {
        left = {absl::StrCat("(registry: ", entries.status().message(), ")")};
        return false;
      }
      left.clear();
      bool clean = true;
      for (const tether::v1::RegistryEntry& entry : *entries) {
        left.push_back(Describe(entry));
        clean = clean && std::find(children.begin(), children.end(),
                                   entry.actor().id().uuid()) == children.end();
      }
      return clean;
    });
    std::sort(left.begin(), left.end());
    Observe("left", absl::StrJoin(left, ","));
    Observe("clean", clean ? "yes" : "no");
  });
  reporter.join();
}

absl::Status Run(ActorCore& root, const Flags& flags) {
  Observe("root_uuid", root.id().uuid());
  std::vector<std::string> children;
  const absl::Status status =
      ActorNursery::Open(&root, [&](ActorNursery& nursery) -> absl::Status {
        std::vector<Portal*> portals;
        for (int i = 0; i < kChildren; ++i) {
          const std::string name = absl::StrCat("a", i);
          absl::StatusOr<Portal*> portal =
              flags.streams
                  ? nursery.StartActor(name)
                  : nursery.RunInActor(name, "sleep_until_cancelled", Value());
          TETHER_RETURN_IF_ERROR(portal.status());
          TETHER_ASSIGN_OR_RETURN(
              tether::v1::ActorInfo info,
              tether::ActorClient::Dial((*portal)->address(),
                                        ActorCore::Of(root).token())
                  .Info(kDeadline));
          portals.push_back(*portal);
          children.push_back(info.id().uuid());
        }
        Observe("children", absl::StrJoin(children, ","));

        // A failure in the block's tasks (the trigger, or a stream that
        // breaks) cancels the others: the streams end with the block.
        tether::TaskGroup tasks(/*cancel_on_error=*/true);
        Flowing flowing;
        if (flags.streams) {
          tasks.Spawn("from-a0", [&] {
            return ReceiveUntilEnd(portals[0], "stream_forever", Value(),
                                   &flowing);
          });
          tasks.Spawn("from-a1", [&] {
            return ReceiveUntilEnd(portals[1], "stream_forever", Value(),
                                   &flowing);
          });
          tasks.Spawn("from-a2", [&] {
            return ReceiveUntilEnd(
                portals[2], "forward_from_named",
                Value::Object({{"name", Value::String("a0")}}), &flowing);
          });
          TETHER_RETURN_IF_ERROR(
              flowing.AwaitAll(kChildren, absl::Now() + kDeadline));
        }

        // tractor: wait on the last actor to come up; then every child is
        // in the registry.
        TETHER_RETURN_IF_ERROR(
            tether::WaitForActor(&root, "a2", kDeadline).status());
        TETHER_ASSIGN_OR_RETURN(std::vector<tether::v1::RegistryEntry> entries,
                                tether::GetRegistry(&root));
        for (const std::string& uuid : children) {
          if (std::none_of(entries.begin(), entries.end(),
                           [&uuid](const tether::v1::RegistryEntry& entry) {
                             return entry.actor().id().uuid() == uuid;
                           })) {
            return absl::NotFoundError(
                absl::StrCat("child ", uuid, " is not registered"));
          }
        }
        Observe("registered", absl::StrCat(entries.size()));
        Observe("ready", "yes");

        if (flags.sigint) return SleepUntilCancelled();
        tasks.Spawn("trigger", [] {
          return ApplicationError("discovery_root.BlockFailed",
                                  "the root's block fails with its tree up");
        });
        return tasks.Wait();
      });
  ReportWhatIsLeft(root, children);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--trigger=")) {
      flags.sigint = arg != "fail";
    } else if (absl::ConsumePrefix(&arg, "--streams=")) {
      flags.streams = arg == "yes";
    } else if (absl::ConsumePrefix(&arg, "--registry=")) {
      flags.registry = std::string(arg);
    }
  }
  tether::RootOptions options;
  options.name = "discovery-root";
  if (!flags.registry.empty()) options.registry_addresses = {flags.registry};
  return tether::RootMain(argc, argv, options,
                          [&flags](ActorRuntime& root) -> absl::Status {
                            return Run(ActorCore::Of(root), flags);
                          });
}
