#!/usr/bin/python3
"""A Python opener of contexts on a C++ actor_node, over Actor/Context.

The opener side of the frame protocol (docs/protocol.md §2-§4, §7) is
implemented here with nothing but the generated stubs and stock gRPC: the
request stream is a generator fed by a queue, so the test reacts to frames
as they arrive; a reader thread puts every received frame, then the call's
final status, on a second queue. Every wait has a deadline (queue timeouts
and the call's own gRPC deadline); nothing sleeps to synchronize.

Payloads are JSON-shaped (google.protobuf.Value). The functions are the
interop set of app/interop_functions.cc.
"""

import collections
import json
import os
import queue
import sys
import threading
import unittest
import uuid

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

import node_harness  # noqa: E402
import proto_stubs  # noqa: E402

# Deadlines. A healthy node meets them by orders of magnitude; they only
# turn a hang into a failure that says what was awaited.
RPC_TIMEOUT_S = 5.0
FRAME_TIMEOUT_S = 5.0
CALL_TIMEOUT_S = 30.0
READER_JOIN_TIMEOUT_S = 5.0

STATUS_DETAILS_KEY = "grpc-status-details-bin"
INTEROP_FUNCTIONS = {"echo", "counter", "echo_stream", "sleep_forever",
                     "fail", "call_peer"}

# Put on the request queue to end the request stream (half-close).
_HALF_CLOSE = object()

# The end of a call, as the reader thread saw it.
Outcome = collections.namedtuple(
    "Outcome", ["code", "details", "trailing_metadata"])

# What ContextCall.drain() read after the frames the test consumed itself.
Drained = collections.namedtuple(
    "Drained", ["values", "stop", "final", "outcome"])


def json_payload(stubs, value):
    """A Payload holding `value` (any JSON-serializable Python value)."""
    message = json_format.Parse(json.dumps(value), struct_pb2.Value())
    return stubs.payload.Payload(json=message)


def decode(test, payload):
    """The Python value of a JSON payload (numbers come back as floats)."""
    test.assertEqual(payload.WhichOneof("kind"), "json",
                     f"expected a JSON payload: {payload}")
    return json_format.MessageToDict(payload.json)


class ContextCall:
    """One Actor/Context call, opener side, driven frame by frame.

    Enforces what an opener must check of the callee: StartAck (or a lone
    Error) first, at most one Started and none from a plain function, data
    only after Started, at most one Stop, exactly one final Return or Error,
    never more data than a Stop/Return/Error announced.
    Violations fail the test with the frames seen so far.
    """

    def __init__(self, test, stubs, stub, start):
        self._test = test
        self._stubs = stubs
        self._requests = queue.Queue()
        self._responses = queue.Queue()
        self._half_closed = False
        self.frames = []  # Every frame received, for failure messages.
        self.received = 0  # Data payloads received so far.
        self.sent = 0  # Data payloads sent so far.
        self._started = False
        self._plain = False
        self.context_id = start.context_id
        self.stop = None  # The callee's Stop, once seen.
        self.final = None  # The callee's Return or Error frame, once seen.
        self._send(self._stubs.frame.Frame(start=start))
        self._call = stub.Context(self._request_frames(),
                                  timeout=CALL_TIMEOUT_S)
        self._reader = threading.Thread(
            target=self._read, name=f"read-{start.context_id}", daemon=True)
        self._reader.start()

    # Sending. -------------------------------------------------------------

    def _request_frames(self):
        """The request stream: frames from the queue until _HALF_CLOSE."""
        while True:
            try:
                item = self._requests.get(timeout=CALL_TIMEOUT_S)
            except queue.Empty:
                return  # The call's deadline has passed by now anyway.
            if item is _HALF_CLOSE:
                return
            yield item

    def _send(self, frame):
        self._test.assertFalse(self._half_closed, "send after half-close")
        self._requests.put(frame)

    def send_yield(self, values):
        """Sends one Yield batch holding `values` (JSON values)."""
        frame = self._stubs.frame
        self._send(frame.Frame(yield_batch=frame.Yield(
            values=[json_payload(self._stubs, v) for v in values])))
        self.sent += len(values)

    def send_stop(self):
        """Sends Stop announcing every payload sent so far."""
        frame = self._stubs.frame
        self._send(frame.Frame(stop=frame.Stop(data_count=self.sent)))

    def send_cancel(self, requester):
        frame = self._stubs.frame
        self._send(frame.Frame(cancel=frame.Cancel(requester=requester)))

    def half_close(self):
        """Ends the request stream (WritesDone). Idempotent."""
        if not self._half_closed:
            self._half_closed = True
            self._requests.put(_HALF_CLOSE)

    def close(self):
        """Ends the call whatever state it is in and joins the reader."""
        self.half_close()
        self._call.cancel()  # No effect on a call that already ended.
        self._reader.join(READER_JOIN_TIMEOUT_S)
        self._test.assertFalse(self._reader.is_alive(),
                               "the reader thread did not end")

    # Receiving. -----------------------------------------------------------

    def _read(self):
        try:
            for frame in self._call:
                self._responses.put(frame)
        except grpc.RpcError:
            pass  # The outcome below carries the status.
        finally:
            self._responses.put(Outcome(
                self._call.code(), self._call.details(),
                tuple(self._call.trailing_metadata() or ())))

    def _seen(self):
        return "frames so far: " + "; ".join(
            json_format.MessageToJson(f, indent=None) for f in self.frames)

    def _next(self, awaiting):
        """The next frame or Outcome; fails after FRAME_TIMEOUT_S."""
        try:
            item = self._responses.get(timeout=FRAME_TIMEOUT_S)
        except queue.Empty:
            item = None
        if item is None:
            self._test.fail(f"no frame within {FRAME_TIMEOUT_S} s while "
                            f"awaiting {awaiting}; {self._seen()}")
        if not isinstance(item, Outcome):
            self.frames.append(item)
            self._check_order(item)
        return item

    def _check_order(self, frame):
        """Fails on frames the callee may not send at this point."""
        kind = frame.WhichOneof("kind")
        first = len(self.frames) == 1
        if first:
            self._test.assertIn(
                kind, ("start_ack", "error"),
                f"the callee's first frame must be StartAck or Error; "
                f"{self._seen()}")
        elif kind == "start_ack":
            self._test.fail(f"a second StartAck; {self._seen()}")
        if self.final is not None and kind != "yield_batch":
            self._test.fail(f"{kind} after the final frame; {self._seen()}")
        if kind == "start_ack":
            self._plain = (frame.start_ack.kind ==
                           self._stubs.frame.FUNCTION_KIND_PLAIN)
        elif kind == "started":
            self._test.assertFalse(self._plain,
                                   f"Started from a plain function; "
                                   f"{self._seen()}")
            self._test.assertFalse(self._started,
                                   f"a second Started; {self._seen()}")
            self._started = True
        elif kind == "yield_batch":
            self._test.assertTrue(self._started,
                                  f"Yield before Started; {self._seen()}")
            self.received += len(frame.yield_batch.values)
            for limit_frame in (self.stop, self.final_data()):
                if limit_frame is not None:
                    self._test.assertLessEqual(
                        self.received, limit_frame.data_count,
                        f"more data than announced; {self._seen()}")
        elif kind == "stop":
            self._test.assertIsNone(self.stop,
                                    f"a second Stop; {self._seen()}")
            self._test.assertTrue(self._started,
                                  f"Stop before Started; {self._seen()}")
            self.stop = frame.stop
        elif kind in ("returned", "error"):
            self.final = frame
        else:
            self._test.fail(f"the callee may not send {kind}; {self._seen()}")

    def final_data(self):
        """The final frame's Return or Error message, or None."""
        if self.final is None:
            return None
        return getattr(self.final, self.final.WhichOneof("kind"))

    def expect(self, kind):
        """Reads the next frame, asserts its kind, returns that message."""
        item = self._next(kind)
        if isinstance(item, Outcome):
            self._test.fail(f"the call ended ({item.code}: {item.details}) "
                            f"while awaiting {kind}; {self._seen()}")
        got = item.WhichOneof("kind")
        self._test.assertEqual(got, kind, f"awaiting {kind}; {self._seen()}")
        return getattr(item, kind)

    def receive_values(self, count):
        """Reads Yield frames until exactly `count` more values arrived."""
        values = []
        while len(values) < count:
            batch = self.expect("yield_batch")
            values.extend(self.decode(p) for p in batch.values)
            self._test.assertLessEqual(
                len(values), count,
                f"wanted {count} values, got {values!r}; {self._seen()}")
        return values

    def drain(self):
        """Reads to the end: remaining values, Stop, final frame, status.

        Honours data_count: Yield frames that a Stop or Return overtook are
        read and delivered, and the final frame must be followed by the
        status once the announced payloads have arrived.
        """
        values = []
        while True:
            item = self._next("the end of the call")
            if isinstance(item, Outcome):
                break
            if item.HasField("yield_batch"):
                values.extend(self.decode(p) for p in item.yield_batch.values)
        self._test.assertIsNotNone(
            self.final, f"status {item.code} without a final Return or "
            f"Error frame; {self._seen()}")
        if self.final.HasField("returned"):
            self._test.assertEqual(
                self.received, self.final.returned.data_count,
                f"Return.data_count must count every payload; {self._seen()}")
        if self.stop is not None:
            self._test.assertEqual(
                self.stop.data_count, self.final_data().data_count,
                f"Stop and the final frame disagree; {self._seen()}")
        return Drained(values, self.stop, self.final, item)

    def decode(self, payload):
        """The Python value of a JSON payload."""
        return decode(self._test, payload)


class ContextTest(unittest.TestCase):
    """Contexts opened by Python on one fresh node per test."""

    def setUp(self):
        self.stubs = proto_stubs.load()
        self.node = self.enterContext(node_harness.NodeProcess(
            ["--name=interop", "--listen=127.0.0.1:0",
             node_harness.token_flag()]))
        self.address = self.node.wait_listening()
        self.channel = self.enterContext(proto_stubs.channel(
            self.address, token=node_harness.tree_token()))
        self.actor = self.stubs.actor_grpc.ActorStub(self.channel)
        self.info = self.actor.Info(self.stubs.actor.InfoRequest(),
                                    timeout=RPC_TIMEOUT_S)
        # The Python client's own identity: any name, a fresh v4 uuid.
        self.me = self.stubs.identity.ActorId(name="py-opener",
                                              uuid=str(uuid.uuid4()))

    # Helpers. -------------------------------------------------------------

    def open(self, function, kind, args):
        """Opens a context; it is closed (and its thread joined) at cleanup."""
        frame = self.stubs.frame
        start = frame.Start(
            function=function, kind=kind,
            args=json_payload(self.stubs, args),
            opener=self.stubs.identity.ActorRef(id=self.me),
            context_id=f"py-{function}-{uuid.uuid4()}")
        call = ContextCall(self, self.stubs, self.actor, start)
        self.addCleanup(call.close)
        return call

    def expect_ack(self, call, kind):
        ack = call.expect("start_ack")
        self.assertEqual(ack.kind, kind)
        self.assertEqual(ack.context_id, call.context_id,
                         "StartAck must echo the opener's context id")
        self.assertEqual(ack.callee.id.uuid, self.info.id.uuid,
                         "StartAck.callee must be the node")
        return ack

    def assertReturned(self, drained, value, data_count):
        self.assertEqual(drained.final.WhichOneof("kind"), "returned",
                         f"expected Return, got {drained.final}")
        self.assertEqual(decode(self, drained.final.returned.value), value)
        self.assertEqual(drained.final.returned.data_count, data_count)
        self.assertEqual(drained.outcome.code, grpc.StatusCode.OK,
                         f"status details: {drained.outcome.details!r}")

    def status_error_info(self, outcome):
        """Decodes grpc-status-details-bin; checks it against the status.

        Returns the one tether.v1.ErrorInfo it carries.
        """
        blobs = [value for key, value in outcome.trailing_metadata
                 if key == STATUS_DETAILS_KEY]
        self.assertEqual(len(blobs), 1,
                         f"want one {STATUS_DETAILS_KEY} trailer, got "
                         f"{outcome.trailing_metadata!r}")
        status = self.stubs.status.Status.FromString(blobs[0])
        self.assertEqual(status.code, outcome.code.value[0],
                         "google.rpc.Status.code must be the call's code")
        self.assertEqual(status.message, outcome.details,
                         "google.rpc.Status.message must be the call's")
        infos = []
        for detail in status.details:
            if detail.Is(self.stubs.error.ErrorInfo.DESCRIPTOR):
                info = self.stubs.error.ErrorInfo()
                detail.Unpack(info)
                infos.append(info)
        self.assertEqual(len(infos), 1,
                         f"want one ErrorInfo detail in {status}")
        return infos[0]

    # Tests. ---------------------------------------------------------------

    def test_info_lists_the_interop_functions(self):
        self.assertLessEqual(INTEROP_FUNCTIONS, set(self.info.functions))

    def test_plain_echo_returns_its_argument(self):
        args = {"text": "hello", "n": 3, "ratio": 0.5, "ok": True,
                "nothing": None, "list": [1, "two", [3], {"four": 4}]}
        call = self.open("echo", self.stubs.frame.FUNCTION_KIND_PLAIN, args)
        self.expect_ack(call, self.stubs.frame.FUNCTION_KIND_PLAIN)
        returned = call.expect("returned")
        self.assertEqual(call.decode(returned.value), args)
        self.assertEqual(returned.data_count, 0)
        drained = call.drain()
        self.assertEqual(drained.values, [])
        self.assertEqual(drained.outcome.code, grpc.StatusCode.OK,
                         f"status details: {drained.outcome.details!r}")

    def test_echo_stream_echoes_batches_in_order(self):
        frame = self.stubs.frame
        call = self.open("echo_stream", frame.FUNCTION_KIND_CONTEXT, {})
        self.expect_ack(call, frame.FUNCTION_KIND_CONTEXT)
        started = call.expect("started")
        self.assertIsNone(call.decode(started.value))
        # Lock step: each batch is echoed before the next is sent.
        for batch in ([1], ["two", 3.5, None], [{"k": [1, 2]}, True]):
            call.send_yield(batch)
            self.assertEqual(call.receive_values(len(batch)), batch)
        # Pipelined: several batches in flight before reading any echo.
        pipelined = [["a", "b"], ["c"], list(range(10))]
        for batch in pipelined:
            call.send_yield(batch)
        expected = [v for batch in pipelined for v in batch]
        self.assertEqual(call.receive_values(len(expected)), expected)
        total = call.sent
        self.assertEqual(total, 19)
        call.send_stop()
        drained = call.drain()
        self.assertEqual(drained.values, [], "no echo may follow Stop")
        self.assertReturned(drained, total, total)

    def test_counter_streams_one_to_n(self):
        frame = self.stubs.frame
        call = self.open("counter", frame.FUNCTION_KIND_CONTEXT, {"n": 5})
        self.expect_ack(call, frame.FUNCTION_KIND_CONTEXT)
        started = call.expect("started")
        self.assertEqual(call.decode(started.value), 0)
        call.send_stop()  # The opener sends no data: Stop{data_count: 0}.
        drained = call.drain()
        self.assertEqual(drained.values, [1, 2, 3, 4, 5])
        if drained.stop is not None:
            self.assertEqual(drained.stop.data_count, 5)
        self.assertReturned(drained, 5, 5)

    def test_counter_after_immediate_half_close(self):
        # The opener may Stop (here: half-close) before StartAck. The
        # callee's Stop and Return may then overtake its Yield frames; their
        # data_count says how many values are still owed (§3).
        frame = self.stubs.frame
        call = self.open("counter", frame.FUNCTION_KIND_CONTEXT, {"n": 3})
        call.half_close()
        self.expect_ack(call, frame.FUNCTION_KIND_CONTEXT)
        self.assertEqual(call.decode(call.expect("started").value), 0)
        drained = call.drain()
        self.assertEqual(drained.values, [1, 2, 3])
        self.assertReturned(drained, 3, 3)

    def test_cancel_ends_with_context_cancelled_naming_the_opener(self):
        frame = self.stubs.frame
        call = self.open("sleep_forever", frame.FUNCTION_KIND_CONTEXT, {})
        self.expect_ack(call, frame.FUNCTION_KIND_CONTEXT)
        call.expect("started")
        call.send_cancel(self.me)
        error = call.expect("error")
        drained = call.drain()
        info = error.error
        ContextCancelled = self.stubs.error.ERROR_KIND_CONTEXT_CANCELLED
        self.assertEqual(info.kind, ContextCancelled, f"{info}")
        self.assertEqual(info.type, "tether.ContextCancelled")
        self.assertEqual(info.canceller.uuid, self.me.uuid,
                         "the canceller must be the Python client")
        self.assertEqual(info.canceller.name, self.me.name)
        self.assertEqual(info.source.uuid, self.info.id.uuid)
        self.assertEqual(drained.outcome.code, grpc.StatusCode.CANCELLED)
        trailer = self.status_error_info(drained.outcome)
        self.assertEqual(trailer.kind, ContextCancelled)
        self.assertEqual(trailer.canceller, info.canceller)
        self.assertEqual(trailer, info,
                         "the trailer carries the final frame's ErrorInfo")
        # The cancel ended one context, not the actor.
        again = self.open("echo", frame.FUNCTION_KIND_PLAIN, "still here")
        again.half_close()
        self.assertReturned(again.drain(), "still here", 0)

    def test_fail_relays_the_boxed_error(self):
        frame = self.stubs.frame
        call = self.open("fail", frame.FUNCTION_KIND_PLAIN,
                         {"type": "ValueError", "message": "boom"})
        self.expect_ack(call, frame.FUNCTION_KIND_PLAIN)
        error = call.expect("error")
        drained = call.drain()
        info = error.error
        self.assertEqual(info.kind, self.stubs.error.ERROR_KIND_APPLICATION)
        self.assertEqual(info.type, "ValueError")
        self.assertIn("boom", info.message)
        self.assertEqual(info.source.uuid, self.info.id.uuid,
                         "the source must be the node that failed")
        self.assertEqual([a.uuid for a in info.relay_path],
                         [self.info.id.uuid])
        self.assertEqual(drained.outcome.code, grpc.StatusCode.ABORTED)
        self.assertEqual(self.status_error_info(drained.outcome), info)

    def test_a_long_error_keeps_its_status(self):
        # gRPC refuses trailers above 8 KB, which turned such a status into
        # RESOURCE_EXHAUSTED: the trailers now carry the error cut short;
        # the Error frame still carries all of it.
        frame = self.stubs.frame
        message = "m" * 20000
        call = self.open("fail", frame.FUNCTION_KIND_PLAIN,
                         {"type": "ValueError", "message": message})
        self.expect_ack(call, frame.FUNCTION_KIND_PLAIN)
        error = call.expect("error")
        drained = call.drain()
        self.assertEqual(error.error.message, message)
        self.assertEqual(drained.outcome.code, grpc.StatusCode.ABORTED,
                         drained.outcome.details[:200])
        trailer = self.status_error_info(drained.outcome)
        self.assertEqual(trailer.type, "ValueError")
        self.assertTrue(trailer.message.startswith("m" * 100))
        self.assertLess(len(trailer.message), 1000)

        name = "n" * 20000
        call = self.open(name, frame.FUNCTION_KIND_PLAIN, None)
        refused = call.expect("error")
        drained = call.drain()
        self.assertEqual(refused.error.kind,
                         self.stubs.error.ERROR_KIND_NO_SUCH_FUNCTION)
        self.assertIn(name, refused.error.message)
        self.assertEqual(drained.outcome.code, grpc.StatusCode.NOT_FOUND,
                         drained.outcome.details[:200])

    def test_call_peer_relays_the_peers_error(self):
        # This node calls `fail` on a second node; the error arrives with
        # the peer as source and relay_path [peer, this node] (§7, §8).
        # The peer registers with this node, whose call_peer dials only
        # actors registered there.
        peer = self.enterContext(node_harness.NodeProcess(
            ["--name=peer", "--listen=127.0.0.1:0",
             f"--registry={self.address}", node_harness.token_flag()]))
        peer_address = peer.wait_listening()
        with proto_stubs.channel(peer_address,
                                 token=node_harness.tree_token()) as channel:
            peer_info = self.stubs.actor_grpc.ActorStub(channel).Info(
                self.stubs.actor.InfoRequest(), timeout=RPC_TIMEOUT_S)
        frame = self.stubs.frame
        call = self.open("call_peer", frame.FUNCTION_KIND_PLAIN, {
            "address": peer_address, "function": "fail",
            "args": {"type": "KeyError", "message": "relayed"}})
        self.expect_ack(call, frame.FUNCTION_KIND_PLAIN)
        info = call.expect("error").error
        drained = call.drain()
        self.assertEqual(info.kind, self.stubs.error.ERROR_KIND_APPLICATION)
        self.assertEqual((info.type, info.message), ("KeyError", "relayed"))
        self.assertEqual(info.source.uuid, peer_info.id.uuid)
        self.assertEqual([a.uuid for a in info.relay_path],
                         [peer_info.id.uuid, self.info.id.uuid])
        self.assertEqual(drained.outcome.code, grpc.StatusCode.ABORTED)
        self.assertEqual(self.status_error_info(drained.outcome), info)

    def test_half_close_after_started_is_stop(self):
        frame = self.stubs.frame
        call = self.open("echo_stream", frame.FUNCTION_KIND_CONTEXT, {})
        self.expect_ack(call, frame.FUNCTION_KIND_CONTEXT)
        call.expect("started")
        sent = ["x", {"y": 2}, [3]]
        call.send_yield(sent[:1])
        call.send_yield(sent[1:])
        call.half_close()  # No Stop frame: the half-close is the Stop.
        drained = call.drain()
        self.assertEqual(drained.values, sent)
        self.assertReturned(drained, len(sent), len(sent))

    def test_half_close_without_data_returns_zero(self):
        frame = self.stubs.frame
        call = self.open("echo_stream", frame.FUNCTION_KIND_CONTEXT, {})
        self.expect_ack(call, frame.FUNCTION_KIND_CONTEXT)
        call.expect("started")
        call.half_close()
        drained = call.drain()
        self.assertEqual(drained.values, [])
        self.assertReturned(drained, 0, 0)


if __name__ == "__main__":
    node_harness.run_tests()
