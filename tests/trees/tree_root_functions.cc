// File: tests/trees/tree_root_functions.cc
//
// The functions the children of tests/tree_root serve (the same binary,
// re-executed in child mode): sleepers that report their pid, middle
// actors with a grandchild of their own, a spinner that never reaches a
// cancellation point, streamers (one of which severs its own connections),
// and the caller, canceller and errorer of the peer_cancel and
// error_before_started scenarios. They register themselves at static
// initialization.

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/actor/actor_core.h"
#include "tests/trees/tree_root_support.h"
#include "tether/address.h"
#include "tether/context.h"
#include "tether/function_registry.h"
#include "tether/nursery.h"
#include "tether/portal.h"
#include "tether/status_macros.h"
#include "tether/task.h"
#include "tether/v1/identity.pb.h"
#include "tether/value.h"

namespace tether::tree_root {
namespace {

// Producers send at this pace: a stream that stays busy, well below what
// would overrun the opener's buffer of 64 (default overrun mode).
constexpr absl::Duration kSendInterval = absl::Milliseconds(5);

absl::StatusOr<ActorCore*> Self() {
  ActorCore* self = ActorCore::Current();
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
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
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
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
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
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
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
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
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
        const absl::Status ended = ReceiveUntilEnd(stream, &received);
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
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
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
  TETHER_ASSIGN_OR_RETURN(ActorCore * self, Self());
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

}  // namespace
}  // namespace tether::tree_root
