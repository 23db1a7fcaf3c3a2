// File: tests/tree_root.cc
//
// The root program of tree_process_test: a tether::RootMain whose body is
// the scenario named by --scenario=NAME, and the functions its children
// (this same binary, re-executed in child mode) serve. The root prints what
// it observed as `observed KEY=VALUE` lines on stdout; the test asserts
// them, and the exit code, stderr and /proc.
//
//   tree                 two middle actors, each with a grandchild, all
//                        asleep until the root is signalled
//   spinning_grandchild  a middle actor whose grandchild spins without a
//                        cancellation point; then the root's body fails
//   peer_cancel          caller streams from sleeper; canceller cancels
//                        sleeper's actor; every context reports its side
//   error_before_started errorer opens a context to service, then fails
//                        instead of Started and cancels that context
//   kill_mid_stream      the root streams from a child the test SIGKILLs
//   sever_mid_stream     a child shuts its own server-side connections
//                        mid-stream, staying alive

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/nursery.h"
#include "client/portal.h"
#include "runtime/actor_runtime.h"
#include "runtime/address.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/function_registry.h"
#include "runtime/status_macros.h"
#include "runtime/task.h"
#include "runtime/value.h"
#include "server/root_main.h"
#include "tether/v1/error.pb.h"

namespace {

using tether::ActorNursery;
using tether::ActorRuntime;
using tether::Address;
using tether::Context;
using tether::MsgStream;
using tether::Portal;
using tether::Value;

// How long a scenario waits for anything before it reports a hang instead.
constexpr absl::Duration kScenarioDeadline = absl::Seconds(20);

// Producers send at this pace: a stream that stays busy, well below what
// would overrun the opener's buffer of 64 (default overrun mode).
constexpr absl::Duration kSendInterval = absl::Milliseconds(5);

// How often a call to an actor whose link just broke is retried.
constexpr absl::Duration kRetryInterval = absl::Milliseconds(10);

// One `observed KEY=VALUE` line, flushed at once: the test may act on it
// while this process runs on.
void Observe(absl::string_view key, absl::string_view value) {
  const std::string one_line = absl::StrReplaceAll(value, {{"\n", " | "}});
  std::printf("observed %s=%s\n", std::string(key).c_str(), one_line.c_str());
  std::fflush(stdout);
}

const char* YesNo(bool value) { return value ? "yes" : "no"; }

// "ERROR_KIND_CONTEXT_CANCELLED", "OK", or "untyped:<code>" for a status
// without ErrorInfo.
std::string KindOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  const std::optional<tether::v1::ErrorInfo> info =
      tether::GetErrorInfo(status);
  if (!info.has_value()) {
    return absl::StrCat("untyped:", absl::StatusCodeToString(status.code()));
  }
  return tether::v1::ErrorKind_Name(info->kind());
}

// The canceller's uuid an error carries, or "unset".
std::string ErrorCanceller(const absl::Status& status) {
  const std::optional<tether::v1::ErrorInfo> info =
      tether::GetErrorInfo(status);
  if (!info.has_value() || info->canceller().uuid().empty()) return "unset";
  return info->canceller().uuid();
}

// The canceller's uuid a context recorded, or "unset".
std::string ContextCanceller(const Context& ctx) {
  const std::optional<tether::v1::ActorId> canceller = ctx.canceller();
  if (!canceller.has_value() || canceller->uuid().empty()) return "unset";
  return canceller->uuid();
}

// An application error raised in this actor, boxed as `type`.
absl::Status ApplicationError(absl::string_view type,
                              absl::string_view message) {
  tether::v1::ErrorInfo info;
  info.set_kind(tether::v1::ERROR_KIND_APPLICATION);
  info.set_type(std::string(type));
  info.set_message(std::string(message));
  if (ActorRuntime* self = ActorRuntime::Current()) {
    *info.mutable_source() = self->id();
    *info.add_relay_path() = self->id();
  }
  return tether::MakeError(info);
}

absl::StatusOr<ActorRuntime*> Self() {
  ActorRuntime* self = ActorRuntime::Current();
  if (self == nullptr) {
    return absl::FailedPreconditionError("runs only in a serving task");
  }
  return self;
}

absl::StatusOr<Address> AddressArg(const Value& args) {
  TETHER_ASSIGN_OR_RETURN(Value field, args.Field("address"));
  TETHER_ASSIGN_OR_RETURN(std::string text, field.AsString());
  return Address::Parse(text);
}

absl::StatusOr<int64_t> IntField(const Value& value, absl::string_view name) {
  TETHER_ASSIGN_OR_RETURN(Value field, value.Field(name));
  return field.AsInt();
}

absl::Status SleepUntilCancelled() {
  while (true) TETHER_RETURN_IF_ERROR(tether::Sleep(absl::Hours(24)));
}

// --- Functions the children serve ---

// Started(pid), then sleeps until cancelled.
absl::StatusOr<Value> PidThenSleep(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(getpid())));
  TETHER_RETURN_IF_ERROR(SleepUntilCancelled());
  return Value();
}
TETHER_REGISTER_CONTEXT(pid_then_sleep, PidThenSleep);

// A middle actor: starts a grandchild that sleeps, reports both pids in
// Started, and sleeps until cancelled (which tears the grandchild down).
absl::StatusOr<Value> Subtree(Context& ctx, const Value&) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TETHER_RETURN_IF_ERROR(
      ActorNursery::Open(self, [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * grandchild,
                                nursery.StartActor("grandchild"));
        return grandchild->OpenContext(
            "pid_then_sleep", Value(),
            [&](Context&, const Value& grandchild_pid) -> absl::Status {
              TETHER_RETURN_IF_ERROR(
                  ctx.Started(Value::Object({{"middle", Value::Int(getpid())},
                                             {"grandchild", grandchild_pid}})));
              return SleepUntilCancelled();
            });
      }));
  return Value();
}
TETHER_REGISTER_CONTEXT(subtree, Subtree);

// Started(pid), then spins forever without reaching a cancellation point.
absl::StatusOr<Value> Spin(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(getpid())));
  std::atomic<uint64_t> spins{0};
  while (true) spins.fetch_add(1, std::memory_order_relaxed);
}
TETHER_REGISTER_CONTEXT(spin, Spin);

// A middle actor whose grandchild spins; Started carries both pids.
absl::StatusOr<Value> SpawnSpinner(Context& ctx, const Value&) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TETHER_RETURN_IF_ERROR(
      ActorNursery::Open(self, [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * spinner,
                                nursery.StartActor("spinner"));
        return spinner->OpenContext(
            "spin", Value(),
            [&](Context&, const Value& spinner_pid) -> absl::Status {
              TETHER_RETURN_IF_ERROR(
                  ctx.Started(Value::Object({{"middle", Value::Int(getpid())},
                                             {"grandchild", spinner_pid}})));
              return SleepUntilCancelled();
            });
      }));
  return Value();
}
TETHER_REGISTER_CONTEXT(spawn_spinner, SpawnSpinner);

// Started(pid), then streams 0, 1, 2, ... until the context ends.
absl::StatusOr<Value> StreamInts(Context& ctx, const Value&) {
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(getpid())));
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 0;; ++i) {
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
    TETHER_RETURN_IF_ERROR(tether::Sleep(kSendInterval));
  }
}
TETHER_REGISTER_CONTEXT(stream_ints, StreamInts);

// The port of a socket address, or -1 when it is not TCP.
int PortOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return -1;
}

// Shuts down (both directions) every connected socket of this process
// whose local port is `port`: the connections peers opened to this actor's
// server. The descriptors stay open for gRPC to close; the peers see the
// link break exactly as when a network path dies.
absl::StatusOr<int> ShutDownServerConnections(int port) {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return absl::InternalError("cannot list /proc/self/fd");
  int shut = 0;
  while (const dirent* entry = readdir(fds)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(fds)) continue;
    sockaddr_storage local{};
    sockaddr_storage remote{};
    socklen_t local_size = sizeof(local);
    socklen_t remote_size = sizeof(remote);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) !=
            0 ||
        PortOf(local) != port) {
      continue;
    }
    // The listening socket has no peer; leave it serving.
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_size) !=
        0) {
      continue;
    }
    if (shutdown(fd, SHUT_RDWR) == 0) ++shut;
  }
  closedir(fds);
  return shut;
}

// Started(pid), streams {"after": N} values, then shuts down the
// connections to its own server and streams on until the context ends.
absl::StatusOr<Value> StreamThenSever(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TETHER_ASSIGN_OR_RETURN(int64_t after, IntField(args, "after"));
  TETHER_ASSIGN_OR_RETURN(Address address,
                          Address::Parse(self->ref().addresses(0)));
  TETHER_RETURN_IF_ERROR(ctx.Started(Value::Int(getpid())));
  TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
  for (int64_t i = 0;; ++i) {
    if (i == after) {
      TETHER_ASSIGN_OR_RETURN(int shut,
                              ShutDownServerConnections(address.port()));
      std::fprintf(stderr,
                   "tree_root: %s severed %d connection(s) to port %d\n",
                   self->identity().name.c_str(), shut, address.port());
      if (shut == 0) {
        return absl::FailedPreconditionError("no connection to sever");
      }
    }
    TETHER_RETURN_IF_ERROR(stream.Send(Value::Int(i)));
    TETHER_RETURN_IF_ERROR(tether::Sleep(kSendInterval));
  }
}
TETHER_REGISTER_CONTEXT(stream_then_sever, StreamThenSever);

// The caller of peer_cancel: streams from the sleeper at {"address"},
// sends Started once values flow, and returns what its own context with
// the sleeper observed when that ended.
absl::StatusOr<Value> StreamFromPeer(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TETHER_ASSIGN_OR_RETURN(Address address, AddressArg(args));
  Portal sleeper(self, address);
  std::string stream_error_kind = "none";
  std::string peer_canceller = "unset";
  bool peer_cancel_called = true;
  int64_t received = 0;
  const absl::Status opened = sleeper.OpenContext(
      "stream_ints", Value(),
      [&](Context& peer_ctx, const Value&) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(MsgStream stream, peer_ctx.OpenStream());
        TETHER_RETURN_IF_ERROR(stream.Receive().status());
        ++received;
        TETHER_RETURN_IF_ERROR(ctx.Started());
        absl::Status ended;
        while (ended.ok()) {
          absl::StatusOr<Value> value =
              stream.Receive(absl::Now() + kScenarioDeadline);
          if (value.ok()) ++received;
          ended = value.status();
        }
        stream_error_kind = KindOf(ended);
        peer_canceller = ContextCanceller(peer_ctx);
        peer_cancel_called = peer_ctx.cancel_called();
        return ended;
      });
  return Value::Object(
      {{"stream_error_kind", Value::String(stream_error_kind)},
       {"peer_ctx_canceller", Value::String(peer_canceller)},
       {"peer_ctx_cancel_called", Value::Bool(peer_cancel_called)},
       {"open_context_error_kind", Value::String(KindOf(opened))},
       {"open_context_canceller", Value::String(ErrorCanceller(opened))},
       {"received_some", Value::Bool(received > 0)}});
}
TETHER_REGISTER_CONTEXT(stream_from_peer, StreamFromPeer);

// The canceller of peer_cancel: cancels the actor at {"address"} and
// returns its own uuid and the uuid of the actor that accepted.
absl::StatusOr<Value> CancelPeer(Context& ctx, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TETHER_ASSIGN_OR_RETURN(Address address, AddressArg(args));
  TETHER_RETURN_IF_ERROR(ctx.Started());
  Portal peer(self, address);
  TETHER_ASSIGN_OR_RETURN(tether::v1::ActorId accepted, peer.CancelActor());
  return Value::Object({{"canceller", Value::String(self->id().uuid())},
                        {"accepted", Value::String(accepted.uuid())}});
}
TETHER_REGISTER_CONTEXT(cancel_peer, CancelPeer);

constexpr char kServiceErrorType[] = "tree_root.ServiceStartError";
constexpr char kServiceErrorMessage[] = "the service refused to start";

// The errorer of error_before_started: opens a context to the service at
// {"address"}, then fails instead of sending Started; on the way out it
// cancels the service's context and waits for the confirmation.
absl::StatusOr<Value> FailBeforeStarted(Context&, const Value& args) {
  TETHER_ASSIGN_OR_RETURN(ActorRuntime * self, Self());
  TETHER_ASSIGN_OR_RETURN(Address address, AddressArg(args));
  Portal service(self, address);
  TETHER_RETURN_IF_ERROR(service.OpenContext(
      "pid_then_sleep", Value(),
      [&](Context& service_ctx, const Value&) -> absl::Status {
        const absl::Status error =
            ApplicationError(kServiceErrorType, kServiceErrorMessage);
        service_ctx.Cancel();
        const absl::Status confirmed =
            service_ctx.Result(absl::Now() + kScenarioDeadline).status();
        std::fprintf(stderr,
                     "tree_root: errorer cancelled its service context: %s\n",
                     KindOf(confirmed).c_str());
        return error;
      }));
  return Value::String("the service context ended without the error");
}
TETHER_REGISTER_CONTEXT(fail_before_started, FailBeforeStarted);

// --- Scenarios: the root's bodies ---

// Two middle actors, each with a sleeping grandchild; prints their pids
// and `observed tree=ready`, then sleeps until the root is interrupted.
absl::Status Tree(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * first, nursery.StartActor("middle-1"));
    TETHER_ASSIGN_OR_RETURN(Portal * second, nursery.StartActor("middle-2"));
    return first->OpenContext(
        "subtree", Value(), [&](Context&, const Value& one) -> absl::Status {
          return second->OpenContext(
              "subtree", Value(),
              [&](Context&, const Value& two) -> absl::Status {
                std::string pids;
                for (const Value* started : {&one, &two}) {
                  for (const char* field : {"middle", "grandchild"}) {
                    TETHER_ASSIGN_OR_RETURN(int64_t pid,
                                            IntField(*started, field));
                    absl::StrAppend(&pids, pids.empty() ? "" : ",", pid);
                  }
                }
                Observe("tree_pids", pids);
                Observe("tree", "ready");
                return SleepUntilCancelled();
              });
        });
  });
}

constexpr char kRootErrorType[] = "tree_root.RootGaveUp";
constexpr char kRootErrorMessage[] =
    "the root gives up while its grandchild spins";

// A middle actor with a spinning grandchild; then the root's body fails.
absl::Status SpinningGrandchild(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * middle, nursery.StartActor("middle"));
    return middle->OpenContext(
        "spawn_spinner", Value(),
        [&](Context&, const Value& started) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(int64_t middle_pid,
                                  IntField(started, "middle"));
          TETHER_ASSIGN_OR_RETURN(int64_t spinner_pid,
                                  IntField(started, "grandchild"));
          Observe("middle_pid", absl::StrCat(middle_pid));
          Observe("grandchild_pid", absl::StrCat(spinner_pid));
          Observe("root", "failing");
          return ApplicationError(kRootErrorType, kRootErrorMessage);
        });
  });
}

// tractor's test_peer_canceller: the root holds a context with sleeper;
// caller streams from sleeper; canceller cancels sleeper's actor. Every
// context reports its outcome and canceller.
absl::Status PeerCancel(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * sleeper, nursery.StartActor("sleeper"));
    TETHER_ASSIGN_OR_RETURN(Portal * caller, nursery.StartActor("caller"));
    TETHER_ASSIGN_OR_RETURN(Portal * canceller,
                            nursery.StartActor("canceller"));
    const Value sleeper_address = Value::Object(
        {{"address", Value::String(sleeper->address().ToString())}});

    // The root's own context with sleeper runs in a task of its own: the
    // ContextCancelled the canceller causes cancels that block, and only
    // that block.
    absl::Notification sleeper_started;
    tether::TaskGroup tasks;
    tasks.Spawn("sleeper_ctx", [&]() -> absl::Status {
      const absl::Status outcome = sleeper->OpenContext(
          "pid_then_sleep", Value(),
          [&](Context& sleeper_ctx, const Value&) -> absl::Status {
            sleeper_started.Notify();
            const absl::Status slept =
                tether::SleepUntil(absl::Now() + kScenarioDeadline);
            Observe("sleeper_ctx.block_ended_by", KindOf(slept));
            Observe("sleeper_ctx.canceller", ContextCanceller(sleeper_ctx));
            Observe("sleeper_ctx.cancel_called",
                    YesNo(sleeper_ctx.cancel_called()));
            return slept;
          });
      Observe("sleeper_ctx.outcome", KindOf(outcome));
      Observe("sleeper_ctx.outcome_canceller", ErrorCanceller(outcome));
      return absl::OkStatus();
    });
    if (!sleeper_started.WaitForNotificationWithTimeout(kScenarioDeadline)) {
      tasks.CancelAll(absl::DeadlineExceededError("sleeper never started"));
      tasks.Wait().IgnoreError();
      return absl::DeadlineExceededError("sleeper never sent Started");
    }

    const absl::Status caller_outcome = caller->OpenContext(
        "stream_from_peer", sleeper_address,
        [&](Context& caller_ctx, const Value&) -> absl::Status {
          const absl::Status canceller_outcome = canceller->OpenContext(
              "cancel_peer", sleeper_address,
              [&](Context& canceller_ctx, const Value&) -> absl::Status {
                TETHER_ASSIGN_OR_RETURN(
                    Value ids,
                    canceller_ctx.Result(absl::Now() + kScenarioDeadline));
                TETHER_ASSIGN_OR_RETURN(Value uuid, ids.Field("canceller"));
                TETHER_ASSIGN_OR_RETURN(Value accepted, ids.Field("accepted"));
                Observe("canceller.uuid", uuid.AsString().value_or("?"));
                Observe("canceller.accepted",
                        accepted.AsString().value_or("?"));
                Observe("canceller_ctx.canceller",
                        ContextCanceller(canceller_ctx));
                Observe("canceller_ctx.cancel_called",
                        YesNo(canceller_ctx.cancel_called()));
                return absl::OkStatus();
              });
          Observe("canceller_ctx.outcome", KindOf(canceller_outcome));
          TETHER_RETURN_IF_ERROR(canceller_outcome);
          TETHER_ASSIGN_OR_RETURN(
              Value seen, caller_ctx.Result(absl::Now() + kScenarioDeadline));
          for (const char* key :
               {"stream_error_kind", "peer_ctx_canceller",
                "open_context_error_kind", "open_context_canceller"}) {
            TETHER_ASSIGN_OR_RETURN(Value field, seen.Field(key));
            Observe(absl::StrCat("caller.", key),
                    field.AsString().value_or("?"));
          }
          for (const char* key : {"peer_ctx_cancel_called", "received_some"}) {
            TETHER_ASSIGN_OR_RETURN(Value field, seen.Field(key));
            Observe(absl::StrCat("caller.", key),
                    YesNo(field.AsBool().value_or(false)));
          }
          Observe("caller_ctx.canceller", ContextCanceller(caller_ctx));
          Observe("caller_ctx.cancel_called",
                  YesNo(caller_ctx.cancel_called()));
          return absl::OkStatus();
        });
    Observe("caller_ctx.outcome", KindOf(caller_outcome));
    TETHER_RETURN_IF_ERROR(tasks.Wait());
    nursery.CancelAll();
    return caller_outcome;
  });
}

// tractor's test_do_not_swallow_error_before_started_by_remote_
// contextcancelled: errorer's context fails before Started, having
// cancelled its own context with service on the way out.
absl::Status ErrorBeforeStarted(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * errorer, nursery.StartActor("errorer"));
    TETHER_ASSIGN_OR_RETURN(Portal * service, nursery.StartActor("service"));
    const absl::Status outcome = errorer->OpenContext(
        "fail_before_started",
        Value::Object(
            {{"address", Value::String(service->address().ToString())}}),
        [](Context&, const Value&) -> absl::Status {
          Observe("errorer_block", "ran");
          return absl::OkStatus();
        });
    const std::optional<tether::v1::ErrorInfo> info =
        tether::GetErrorInfo(outcome);
    Observe("error_kind", KindOf(outcome));
    Observe("is_context_cancelled", YesNo(tether::IsContextCancelled(outcome)));
    if (info.has_value()) {
      Observe("error_type", info->type());
      Observe("error_message", info->message());
      Observe("error_source", info->source().name());
    }
    // The service outlived the cancel of its context and still serves.
    absl::StatusOr<Value> echo =
        service->Run("echo", Value::String("still serving"));
    Observe("service_echo",
            echo.ok() ? echo->AsString().value_or("?") : KindOf(echo.status()));
    nursery.CancelAll();
    return absl::OkStatus();
  });
}

// Whether `pid` has no /proc entry: for a child of this process, that it
// exited and was reaped (an unreaped one stays, a zombie).
std::string ProcState(int64_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return "gone";
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size()
             ? "unknown"
             : std::string(1, line[paren + 2]);
}

// The root streams from a child until the test SIGKILLs it.
absl::Status KillMidStream(ActorRuntime& root) {
  int64_t streamer_pid = 0;
  const absl::Status nursery_status =
      ActorNursery::Open(&root, [&](ActorNursery& nursery) -> absl::Status {
        TETHER_ASSIGN_OR_RETURN(Portal * streamer,
                                nursery.StartActor("streamer"));
        const absl::Status outcome = streamer->OpenContext(
            "stream_ints", Value(),
            [&](Context& ctx, const Value& started) -> absl::Status {
              TETHER_ASSIGN_OR_RETURN(streamer_pid, started.AsInt());
              TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
              for (int i = 0; i < 3; ++i) {
                TETHER_RETURN_IF_ERROR(stream.Receive().status());
              }
              Observe("streamer_pid", absl::StrCat(streamer_pid));
              Observe("streaming", "yes");
              absl::Status ended;
              while (ended.ok()) {
                ended =
                    stream.Receive(absl::Now() + kScenarioDeadline).status();
              }
              Observe("stream_error_kind", KindOf(ended));
              Observe("stream_error", ended.message());
              return ended;
            });
        Observe("context_error_kind", KindOf(outcome));
        return absl::OkStatus();
      });
  Observe("nursery_error_kind", KindOf(nursery_status));
  Observe("nursery_error", tether::DescribeError(nursery_status));
  Observe("streamer_state_after_nursery", ProcState(streamer_pid));
  return absl::OkStatus();
}

// A child shuts its server-side connections mid-stream and stays alive.
absl::Status SeverMidStream(ActorRuntime& root) {
  return ActorNursery::Open(&root, [](ActorNursery& nursery) -> absl::Status {
    TETHER_ASSIGN_OR_RETURN(Portal * streamer, nursery.StartActor("streamer"));
    int64_t streamer_pid = 0;
    int64_t received = 0;
    const absl::Status outcome = streamer->OpenContext(
        "stream_then_sever", Value::Object({{"after", Value::Int(3)}}),
        [&](Context& ctx, const Value& started) -> absl::Status {
          TETHER_ASSIGN_OR_RETURN(streamer_pid, started.AsInt());
          TETHER_ASSIGN_OR_RETURN(MsgStream stream, ctx.OpenStream());
          absl::Status ended;
          while (ended.ok()) {
            absl::StatusOr<Value> value =
                stream.Receive(absl::Now() + kScenarioDeadline);
            if (value.ok()) ++received;
            ended = value.status();
          }
          Observe("stream_error_kind", KindOf(ended));
          Observe("stream_error", ended.message());
          return ended;
        });
    Observe("received_before_break", absl::StrCat(received));
    Observe("context_error_kind", KindOf(outcome));
    const std::string state = ProcState(streamer_pid);
    Observe("streamer_alive", YesNo(state != "gone" && state != "Z"));
    // It is reachable again once the channel has a new connection. Until
    // gRPC notices the old one is dead, calls fail fast with
    // TransportClosed; each attempt is a cancellation point.
    const absl::Time deadline = absl::Now() + kScenarioDeadline;
    int attempts = 0;
    absl::StatusOr<Value> echo;
    do {
      if (attempts > 0) TETHER_RETURN_IF_ERROR(tether::Sleep(kRetryInterval));
      ++attempts;
      echo = streamer->Run("echo", Value::String("reconnected"));
    } while (tether::IsTransportClosed(echo.status()) &&
             absl::Now() < deadline);
    Observe("streamer_echo",
            echo.ok() ? echo->AsString().value_or("?") : KindOf(echo.status()));
    Observe("streamer_echo_attempts", absl::StrCat(attempts));
    nursery.CancelAll();
    return absl::OkStatus();
  });
}

const std::map<std::string, std::function<absl::Status(ActorRuntime&)>>&
Scenarios() {
  static const auto* scenarios =
      new std::map<std::string, std::function<absl::Status(ActorRuntime&)>>{
          {"tree", Tree},
          {"spinning_grandchild", SpinningGrandchild},
          {"peer_cancel", PeerCancel},
          {"error_before_started", ErrorBeforeStarted},
          {"kill_mid_stream", KillMidStream},
          {"sever_mid_stream", SeverMidStream},
      };
  return *scenarios;
}

}  // namespace

int main(int argc, char** argv) {
  std::string scenario;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--scenario=")) scenario = std::string(arg);
  }
  tether::RootOptions options;
  options.name = "tree-root";
  return tether::RootMain(
      argc, argv, options, [&scenario](ActorRuntime& root) -> absl::Status {
        const auto it = Scenarios().find(scenario);
        if (it == Scenarios().end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown --scenario=", scenario));
        }
        return it->second(root);
      });
}
