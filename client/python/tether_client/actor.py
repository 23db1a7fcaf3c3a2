"""Handles on remote actors and registrars.

    me = tether_client.new_identity("py-worker")      # optional
    with tether_client.connect("127.0.0.1:7000", me=me) as actor:
        actor.run("echo", {"x": 1})                   # {'x': 1.0}
        with actor.open_context("counter", {"n": 3}) as ctx:
            print(ctx.started, list(ctx.open_stream()))
        print(actor.info().id.name)

    with tether_client.Registrar("127.0.0.1:7000") as registrar:
        actor = registrar.wait_for_actor("worker", timeout=10)

Every call carries the tree's token (credentials.py, docs/security.md):
`token=` or `token_file=`, else the token of the root serving at the
address on this machine. Actors found through a Registrar get its token.

Thread-safety: an Actor or Registrar may be used from several threads at
once (gRPC channels and stubs are thread-safe); each context belongs to the
thread that opened it.
"""

import uuid

import grpc

from tether_client import _proto
from tether_client import context as context_lib
from tether_client import credentials
from tether_client import errors

FunctionKind = _proto.frame_pb2.FunctionKind

# Unary control calls (Info, Cancel, Find, List) give up after this long
# unless the caller says otherwise.
DEFAULT_RPC_TIMEOUT_S = 5.0


def new_identity(name="python-client"):
    """A fresh identity for this client: `name` and a new v4 uuid. It is
    the opener of the contexts it starts and the canceller of its cancels."""
    return errors.ActorId(name, str(uuid.uuid4()))


def _unary(method, request, timeout):
    """Calls a unary RPC; UNAVAILABLE becomes TransportClosed,
    DEADLINE_EXCEEDED TimeoutError and UNAUTHENTICATED
    credentials.Unauthenticated. Other failures raise grpc.RpcError."""
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as err:
        code = err.code()
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise credentials.Unauthenticated(
                f"the actor refused the call: {err.details()}") from err
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise TimeoutError(f"no answer within {timeout} s") from err
        if code == grpc.StatusCode.UNAVAILABLE:
            raise errors.transport_closed(
                f"UNAVAILABLE: {err.details()}") from err
        raise


# gRPC Python's maximum receive message size when the channel sets none.
_DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024


def _max_receive_bytes(channel_options):
    """The largest message a channel with `channel_options` accepts, as
    Start.max_frame_bytes announces it (0: no limit)."""
    limit = dict(channel_options).get("grpc.max_receive_message_length",
                                      _DEFAULT_MAX_RECEIVE_BYTES)
    return 0 if limit < 0 else limit


class Actor:
    """A remote actor at one address (gRPC target syntax: "host:port" or
    "unix:/path"). Connects lazily; close() (or the `with` block) closes
    the channel. `me` is this client's identity (new_identity() when
    omitted); `channel_options` go to grpc.insecure_channel. The tree's
    token comes from `token` or `token_file`, else from the local root
    serving at `address` (credentials.find_token); CredentialsError when
    there is none."""

    def __init__(self, address, *, me=None, channel_options=(), token=None,
                 token_file=None):
        self.address = address
        self.me = me or new_identity()
        channel_options = list(channel_options)
        self._token = credentials.find_token(address, token=token,
                                             token_file=token_file)
        self._channel = credentials.tree_channel(address, self._token,
                                                 channel_options)
        self._stub = _proto.actor_pb2_grpc.ActorStub(self._channel)
        self._max_frame_bytes = _max_receive_bytes(channel_options)

    def info(self, timeout=DEFAULT_RPC_TIMEOUT_S):
        """The actor's tether.v1.ActorInfo."""
        return _unary(self._stub.Info, _proto.actor_pb2.InfoRequest(),
                      timeout)

    def run(self, function, args=None, *, timeout=None):
        """Runs the plain function `function` with `args` and returns its
        result. Raises the callee's error (RemoteActorError and kin), or
        TransportClosed; after `timeout` seconds cancels the call and
        raises TimeoutError."""
        ctx = context_lib.Context(self._stub, self.me, function, args,
                                  FunctionKind.FUNCTION_KIND_PLAIN,
                                  max_frame_bytes=self._max_frame_bytes)
        return ctx.run_plain(timeout)

    def open_context(self, function, args=None, *, timeout=None,
                     buffer_size=0, allow_overruns=False,
                     callee_allow_overruns=False,
                     cancel_timeout=context_lib.DEFAULT_CANCEL_TIMEOUT_S):
        """Opens a context with the context function `function`; use the
        result as a context manager. Returns once the callee's Started value
        is in (`ctx.started`); raises the callee's error if it failed first,
        TimeoutError after `timeout` seconds.

        `buffer_size` is each side's receive buffer in values (0: the
        default, 64). Without `allow_overruns` a value that does not fit in
        this client's buffer fails the context with StreamOverrun naming the
        callee as sender; with it, the client keeps every value (its buffer
        is unbounded) and never stops reading, as a client that serves no
        Actor service must (docs/protocol.md §5). `callee_allow_overruns`
        asks the same of the callee. `cancel_timeout` bounds how long a
        cancelling block waits for the callee to confirm before the RPC is
        cancelled."""
        ctx = context_lib.Context(
            self._stub, self.me, function, args,
            FunctionKind.FUNCTION_KIND_CONTEXT, buffer_size=buffer_size,
            allow_overruns=allow_overruns,
            callee_allow_overruns=callee_allow_overruns,
            cancel_timeout=cancel_timeout,
            max_frame_bytes=self._max_frame_bytes)
        ctx.wait_started(timeout)
        return ctx

    def cancel_actor(self, reason="", timeout=DEFAULT_RPC_TIMEOUT_S):
        """Actor/Cancel: the actor cancels every task, naming this client as
        canceller, and exits. Returns the ActorId that accepted."""
        response = _unary(self._stub.Cancel, _proto.actor_pb2.CancelActorRequest(
            requester=self.me.to_proto(), reason=reason), timeout)
        return errors.ActorId.from_proto(response.actor)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def connect(address, *, me=None, channel_options=(), token=None,
            token_file=None):
    """An Actor for `address`; see Actor."""
    return Actor(address, me=me, channel_options=channel_options,
                 token=token, token_file=token_file)


class Registrar:
    """A tether.v1.Registrar (hosted by every root, and by an actor_node
    started without --registry). Entries are tether.v1.RegistryEntry
    messages; lookups answer newest first. The token comes as for Actor,
    and the actors it finds are called with it."""

    def __init__(self, address, *, channel_options=(), token=None,
                 token_file=None):
        self.address = address
        self._channel_options = list(channel_options)
        self._token = credentials.find_token(address, token=token,
                                             token_file=token_file)
        self._channel = credentials.tree_channel(address, self._token,
                                                 self._channel_options)
        self._stub = _proto.registrar_pb2_grpc.RegistrarStub(self._channel)

    def find(self, name, timeout=DEFAULT_RPC_TIMEOUT_S):
        """The entries registered under `name`, newest first; [] if none."""
        return list(_unary(self._stub.Find, _proto.registrar_pb2.FindRequest(
            name=name), timeout).entries)

    def wait(self, name, timeout):
        """Like find(), but waits until at least one entry exists. Raises
        TimeoutError after `timeout` seconds (the call's gRPC deadline)."""
        return list(_unary(self._stub.Wait, _proto.registrar_pb2.WaitRequest(
            name=name), timeout).entries)

    def list(self, timeout=DEFAULT_RPC_TIMEOUT_S):
        """Every entry, ordered by name, then newest first."""
        return list(_unary(self._stub.List, _proto.registrar_pb2.ListRequest(),
                           timeout).entries)

    def find_actor(self, name, *, me=None, timeout=DEFAULT_RPC_TIMEOUT_S):
        """An Actor for the newest entry under `name`. Raises LookupError
        when there is none."""
        entries = self.find(name, timeout)
        if not entries:
            raise LookupError(f"no actor named {name!r} in {self.address}")
        return self._dial(entries[0], me)

    def wait_for_actor(self, name, *, me=None, timeout):
        """An Actor for the newest entry under `name`, waiting up to
        `timeout` seconds for one to register (TimeoutError after)."""
        return self._dial(self.wait(name, timeout)[0], me)

    def _dial(self, entry, me):
        addresses = list(entry.actor.addresses)
        if not addresses:
            raise LookupError(f"{entry.actor.id.name} has no address")
        # Addresses are ordered by preference; the channel connects lazily,
        # so the first one is used (the runtime's own nodes publish one).
        return Actor(addresses[0], me=me,
                     channel_options=self._channel_options,
                     token=self._token)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
