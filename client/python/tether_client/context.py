"""The opener's side of one context (docs/protocol.md §2-§5) in Python.

A Context is one tether.v1.Actor/Context call. Frames are sent through a
queue that feeds gRPC's request iterator; a reader thread takes every frame
the callee sends, applies it to the context's state under one condition
variable, and wakes whoever waits. Actor.open_context() and Actor.run()
(tether_client/actor.py) create contexts; users see them as

    with actor.open_context("echo_stream", {}) as ctx:
        with ctx.open_stream() as stream:
            stream.send("hi")
            print(stream.receive(timeout=5))
    print(ctx.result())

Leaving the `with` block applies tractor's rules: an exception in the block
cancels the callee (Cancel naming this client, with the exception as the
reason) and comes out unchanged; a callee error comes out as the matching
TetherError; a ContextCancelled the opener asked for with ctx.cancel() is
absorbed. A block that ends normally half-closes the request stream unless
its stream was closed already (a half-close counts as Stop) and then waits
for the callee's outcome.

Thread-safety: every public method may be called from any thread. A
context belongs to the code that opened it; sharing one between threads is
allowed but rarely useful.
"""

import collections
import queue
import threading
import time
import uuid

import grpc

from tether_client import _proto
from tether_client import credentials
from tether_client import errors
from tether_client import values

ErrorKind = errors.ErrorKind
FunctionKind = _proto.frame_pb2.FunctionKind

_frame = _proto.frame_pb2

# A receive buffer of 0 means the runtime's default (ContextOptions).
DEFAULT_BUFFER_SIZE = 64
# How long a cancelling opener waits for the callee to confirm with its
# final frame before it cancels the RPC, as tether/portal.h does.
DEFAULT_CANCEL_TIMEOUT_S = 0.5
# Bounds joining the reader thread once the RPC has been cancelled; gRPC
# ends a cancelled call's iteration at once.
_READER_JOIN_TIMEOUT_S = 5.0
STATUS_DETAILS_KEY = "grpc-status-details-bin"

# Put on the request queue to end the request stream (half-close).
_HALF_CLOSE = object()


class StreamClosed(Exception):
    """A send after this side's Stop, or after the callee finished."""


def _deadline(timeout):
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline):
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def error_info_from_trailers(trailers):
    """The tether.v1.ErrorInfo in a grpc-status-details-bin trailer, or
    None."""
    for key, value in trailers or ():
        if key != STATUS_DETAILS_KEY:
            continue
        status = _proto.status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(_proto.error_pb2.ErrorInfo.DESCRIPTOR):
                info = _proto.error_pb2.ErrorInfo()
                detail.Unpack(info)
                return info
    return None


class Context:
    """One context, opener side. Created by Actor.open_context() (context
    functions, used as a context manager) and Actor.run() (plain
    functions)."""

    def __init__(self, stub, me, function, args, kind, *, buffer_size=0,
                 allow_overruns=False, callee_allow_overruns=False,
                 cancel_timeout=DEFAULT_CANCEL_TIMEOUT_S, max_frame_bytes=0):
        self.function = function
        # Opener-chosen, so it names the context from the first frame on.
        self.id = str(uuid.uuid4())
        self.me = me
        self._kind = kind
        self._capacity = buffer_size or DEFAULT_BUFFER_SIZE
        self._allow_overruns = allow_overruns
        self._cancel_timeout = cancel_timeout
        self._requests = queue.SimpleQueue()
        self._cond = threading.Condition()
        # Everything below is guarded by _cond.
        self._ack = None  # The callee's StartAck.
        self._callee = None  # ActorId from StartAck.
        self._started = False
        self._started_value = None
        self._inbox = collections.deque()  # Values not yet received.
        self._received = 0  # Payloads that arrived in Yield frames.
        self._peer_stop = None  # data_count of the callee's Stop or Return.
        self._final = None  # The callee's Return or Error frame.
        self._result = None  # Return.value, decoded.
        self._error = None  # The context's error; the first one wins.
        self._done = False  # The RPC ended; its status was applied.
        self._sent = 0  # Payloads this side sent in Yield frames.
        self._stopped = False  # This side sent Stop or half-closed.
        self._half_closed = False
        self._cancel_called = False
        self._stream_opened = False

        start = _frame.Start(
            function=function, kind=kind, args=values.to_payload(args),
            opener=_proto.identity_pb2.ActorRef(id=me.to_proto()),
            context_id=self.id,
            max_frame_bytes=max_frame_bytes,
            options=_frame.ContextOptions(
                buffer_size=buffer_size,
                callee_allow_overruns=callee_allow_overruns,
                opener_allow_overruns=allow_overruns))
        self._requests.put(_frame.Frame(start=start))
        self._call = stub.Context(self._request_frames())
        self._reader = threading.Thread(
            target=self._read, name=f"tether-ctx-{function}", daemon=True)
        self._reader.start()

    # The user's API. ------------------------------------------------------

    @property
    def started(self):
        """The callee's Started value (None for a plain function)."""
        with self._cond:
            return self._started_value

    @property
    def callee(self):
        """The callee's ActorId, from StartAck (None before it)."""
        with self._cond:
            return self._callee

    @property
    def cancel_called(self):
        """This side called cancel()."""
        with self._cond:
            return self._cancel_called

    def open_stream(self):
        """This side's MsgStream; once per context. Use it as a context
        manager to close() it (send Stop) at the end of the block."""
        with self._cond:
            if self._stream_opened:
                raise RuntimeError("open_stream() called twice")
            if not self._started:
                raise RuntimeError("open_stream() before Started")
            if self._error is not None:
                raise self._error
            self._stream_opened = True
        return MsgStream(self)

    def cancel(self, reason=None):
        """Asks the callee to cancel (non-blocking): sends Cancel naming
        this client. Its ContextCancelled is then absorbed when the block
        exits. Does nothing once the outcome is known. `reason` is an
        ErrorInfo (informative)."""
        with self._cond:
            if self._cancel_called or self._outcome_known_locked():
                return
            self._cancel_called = True
            if self._half_closed:
                # No in-band Cancel can follow a half-close; cancelling the
                # RPC still cancels the callee's task.
                self._call.cancel()
                return
            cancel = _frame.Cancel(requester=self.me.to_proto())
            if reason is not None:
                cancel.reason.CopyFrom(reason)
            self._send_locked(_frame.Frame(cancel=cancel))

    def result(self, timeout=None):
        """Waits for the callee's outcome and returns its value, or raises
        its error (a ContextCancelled this side asked for included: the
        `with` block absorbs it). Raises TimeoutError after `timeout`
        seconds; unread stream data is left alone."""
        if not self._wait_done(timeout):
            raise TimeoutError(
                f"{self.function}: no outcome within {timeout} s")
        with self._cond:
            if self._error is not None:
                raise self._error
            return self._result

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            return self._exit_block(exc)
        finally:
            self.close()

    # Opening and closing (Actor's API). -----------------------------------

    def wait_started(self, timeout):
        """Waits for Started. Raises the context's error if the callee
        failed first, TimeoutError after `timeout` seconds (None: no
        limit); either way the context is then closed."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._started or self._error is not None
                or self._done, timeout)
            error = self._error
        if error is None and ok:
            return
        self._cancel_and_close()
        if error is not None:
            raise error
        raise TimeoutError(
            f"{self.function}: no Started within {timeout} s")

    def run_plain(self, timeout):
        """The plain function's result. The request stream is half-closed
        at once (no data will follow; a half-close counts as Stop). After
        `timeout` seconds the RPC is cancelled, which cancels the callee's
        task, and TimeoutError is raised. Closes the context."""
        try:
            # A half-close rather than a Stop frame: every callee takes it
            # as Stop, in every state (protocol.md §2).
            with self._cond:
                self._half_close_locked()
            return self.result(timeout)
        finally:
            self.close()

    def close(self):
        """Ends the call whatever its state and joins the reader thread;
        the callee's task is cancelled if it still runs. Idempotent."""
        with self._cond:
            self._half_close_locked()
            done = self._done
        if not done:
            self._call.cancel()
        self._reader.join(_READER_JOIN_TIMEOUT_S)

    # Block exit. ------------------------------------------------------------

    def _absorbs(self, error):
        """Whether `error` is a ContextCancelled this side asked for."""
        with self._cond:
            return (isinstance(error, errors.ContextCancelled)
                    and error is self._error and self._cancel_called
                    and error.canceller is not None
                    and error.canceller.uuid == self.me.uuid)

    def _exit_block(self, exc):
        if exc is None:
            with self._cond:
                if not self._stopped:
                    self._half_close_locked()
                cancelling = self._cancel_called
            if not self._wait_done(self._cancel_timeout if cancelling
                                   else None):
                return False  # Unconfirmed cancel: close() ends the call.
            with self._cond:
                error = self._error
            if error is None or self._absorbs(error):
                return False
            raise error
        if self._absorbs(exc):
            return True
        with self._cond:
            own = exc is self._error
        if not own:
            # The block failed: cancel the callee, naming the failure.
            self.cancel(reason=errors.box_exception(exc, self.me))
        self._wait_done(self._cancel_timeout)
        return False

    def _cancel_and_close(self):
        self.cancel()
        self._wait_done(self._cancel_timeout)
        self.close()

    # Sending (REQUIRES: _cond held for the ..._locked helpers). -------------

    def _request_frames(self):
        """gRPC's request iterator: frames from the queue until a
        half-close."""
        while True:
            item = self._requests.get()
            if item is _HALF_CLOSE:
                return
            yield item

    def _send_locked(self, frame):
        if not self._half_closed:
            self._requests.put(frame)

    def _half_close_locked(self):
        if not self._half_closed:
            self._half_closed = True
            self._stopped = True
            self._requests.put(_HALF_CLOSE)

    def _stop_locked(self):
        if not self._stopped:
            self._stopped = True
            self._send_locked(
                _frame.Frame(stop=_frame.Stop(data_count=self._sent)))

    def _send_value(self, value):
        payload = values.to_payload(value)
        frame = _frame.Frame(yield_batch=_frame.Yield(values=[payload]))
        with self._cond:
            if self._error is not None:
                raise self._error
            if self._stopped:
                raise StreamClosed("send after this side's Stop")
            if self._final is not None:
                raise StreamClosed("the callee has finished")
            limit = self._ack.max_frame_bytes if self._ack else 0
            if limit and frame.ByteSize() > limit:
                raise ValueError(f"a {frame.ByteSize()}-byte frame exceeds "
                                 f"the callee's {limit}-byte limit")
            self._send_locked(frame)
            self._sent += 1

    # Receiving. -----------------------------------------------------------

    def _receive(self, timeout):
        with self._cond:
            self._cond.wait_for(
                lambda: self._inbox or self._error is not None
                or self._end_of_stream_locked() or self._done, timeout)
            if self._inbox:
                return self._inbox.popleft()
            if self._error is not None:
                raise self._error
            if self._end_of_stream_locked() or self._done:
                raise errors.EndOfStream()
        raise TimeoutError(f"{self.function}: no value within {timeout} s")

    def _end_of_stream_locked(self):
        return (self._peer_stop is not None
                and self._received >= self._peer_stop and not self._inbox)

    def _outcome_known_locked(self):
        return self._done or self._final is not None or self._error is not None

    def _wait_done(self, timeout):
        """Waits until the RPC ended (the outcome and every owed payload
        are in); returns whether it did within `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done, timeout)

    def _read(self):
        try:
            for frame in self._call:
                with self._cond:
                    self._on_frame(frame)
                    self._cond.notify_all()
        except grpc.RpcError:
            pass  # The status below says what happened.
        finally:
            status = (self._call.code(), self._call.details(),
                      self._call.trailing_metadata())
            with self._cond:
                self._on_status(*status)
                self._done = True
                # Nothing sent now has any effect; end the request stream.
                self._half_close_locked()
                self._cond.notify_all()

    def _fail_locked(self, error):
        """Records the context's error (the first wins) and drops the data
        still queued: errors apply on arrival."""
        if self._error is None:
            self._error = error
            self._inbox.clear()

    def _local_error_locked(self, kind, type_name, message, **fields):
        """Fails the context with an error detected here and reports it to
        the callee, whose task it fails (§2 Violations, §5)."""
        info = errors.make_info(kind, type_name, message, self.me,
                                function=self.function, context_id=self.id,
                                **fields)
        self._send_locked(_frame.Frame(
            error=_frame.Error(error=info, data_count=self._sent)))
        self._fail_locked(errors.from_error_info(info))

    def _violation_locked(self, problem):
        self._local_error_locked(ErrorKind.ERROR_KIND_PROTOCOL,
                                 errors.PROTOCOL_ERROR_TYPE,
                                 f"callee violated the protocol: {problem}")

    def _on_frame(self, frame):
        kind = frame.WhichOneof("kind")
        if self._ack is None and kind not in ("start_ack", "error"):
            return self._violation_locked(f"{kind} before StartAck")
        if self._final is not None and kind != "yield_batch":
            return self._violation_locked(f"{kind} after the final frame")
        if kind == "start_ack":
            if self._ack is not None:
                return self._violation_locked("a second StartAck")
            self._ack = frame.start_ack
            self._callee = errors.ActorId.from_proto(
                frame.start_ack.callee.id)
        elif kind == "started":
            if self._ack.kind == FunctionKind.FUNCTION_KIND_PLAIN:
                return self._violation_locked("Started from a plain function")
            if self._started:
                return self._violation_locked("a second Started")
            self._started = True
            self._started_value = values.from_payload(frame.started.value)
        elif kind == "yield_batch":
            self._on_data(frame.yield_batch.values)
        elif kind == "stop":
            if self._peer_stop is not None or not self._started:
                return self._violation_locked("Stop out of order")
            self._on_limit(frame.stop.data_count)
        elif kind == "returned":
            if self._kind != FunctionKind.FUNCTION_KIND_PLAIN and (
                    not self._started):
                return self._violation_locked("Return before Started")
            self._final = frame
            self._result = values.from_payload(frame.returned.value)
            self._on_limit(frame.returned.data_count)
        elif kind == "error":
            self._final = frame
            self._fail_locked(errors.from_error_info(frame.error.error))
        else:
            self._violation_locked(f"the callee sent {kind}")

    def _on_limit(self, data_count):
        """A Stop or Return announced `data_count` payloads in all."""
        if self._peer_stop is not None and self._peer_stop != data_count:
            return self._violation_locked(
                f"data_count {data_count} after {self._peer_stop}")
        if self._received > data_count:
            return self._violation_locked(
                f"{self._received} payloads, {data_count} announced")
        self._peer_stop = data_count

    def _on_data(self, payloads):
        if not self._started:
            return self._violation_locked("Yield before Started")
        try:
            batch = values.from_batch(payloads)
        except ValueError as err:
            return self._violation_locked(str(err))
        self._received += len(batch)
        if self._peer_stop is not None and self._received > self._peer_stop:
            return self._violation_locked(
                f"{self._received} payloads, {self._peer_stop} announced")
        if self._error is not None:
            return  # The context failed; its data is dropped.
        for value in batch:
            if len(self._inbox) >= self._capacity and not self._allow_overruns:
                return self._local_error_locked(
                    ErrorKind.ERROR_KIND_STREAM_OVERRUN,
                    errors.STREAM_OVERRUN_TYPE,
                    f"receive buffer of {self._capacity} values overflowed",
                    sender=self._callee)
            self._inbox.append(value)

    def _on_status(self, code, details, trailers):
        if self._final is None:
            info = error_info_from_trailers(trailers)
            if info is not None:
                self._fail_locked(errors.from_error_info(info))
            elif code == grpc.StatusCode.UNAUTHENTICATED:
                self._fail_locked(credentials.Unauthenticated(
                    f"the actor refused the context: {details}"))
            elif code == grpc.StatusCode.OK:
                self._fail_locked(errors.ProtocolError(errors.make_info(
                    ErrorKind.ERROR_KIND_PROTOCOL, errors.PROTOCOL_ERROR_TYPE,
                    "the call ended OK without a final frame", self.me,
                    function=self.function, context_id=self.id)))
            else:
                self._fail_locked(errors.transport_closed(
                    f"{code.name}: {details}", context_id=self.id))
        elif self._error is None and (
                self._received < (self._peer_stop or 0)):
            self._fail_locked(errors.ProtocolError(errors.make_info(
                ErrorKind.ERROR_KIND_PROTOCOL, errors.PROTOCOL_ERROR_TYPE,
                f"the call ended after {self._received} of "
                f"{self._peer_stop} payloads", self.me,
                function=self.function, context_id=self.id)))


class MsgStream:
    """This side's handle on a context's message stream, from
    Context.open_stream(). Iterating yields received values until the end
    of the stream; an error of the context is raised instead."""

    def __init__(self, context):
        self._context = context

    def send(self, value):
        """Sends one value (JSON-shaped, or a protobuf message). Raises the
        context's error once it failed, StreamClosed after close() or once
        the callee finished."""
        self._context._send_value(value)

    def receive(self, timeout=None):
        """The next value. Raises EndOfStream once the callee stopped and
        everything it sent was received, the context's error if it failed,
        TimeoutError after `timeout` seconds (None: no limit)."""
        return self._context._receive(timeout)

    def close(self):
        """Sends Stop: this side sends no more. Idempotent."""
        with self._context._cond:
            self._context._stop_locked()

    def __iter__(self):
        while True:
            try:
                yield self.receive()
            except errors.EndOfStream:
                return

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False
