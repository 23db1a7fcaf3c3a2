#!/usr/bin/python3
"""The Python client package (client/python/tether_client) against real
actor_node processes: plain calls, streams both ways, cancellation,
errors with their relay path, overruns, a broken transport, and lookups
through a registrar.

Every node runs in node_harness.NodeProcess, which kills it when the test
ends however it ends. Waits are bounded: the client's own timeouts and
deadlines; nothing sleeps to synchronize.
"""

import os
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402

sys.path.insert(0, node_harness.runfile("client/python"))

import tether_client  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402
from tether_client import _proto  # noqa: E402

# A healthy node meets these by orders of magnitude.
TIMEOUT_S = 10.0
# Covers starting a node (node_harness.START_TIMEOUT_S) and its registering.
WAIT_TIMEOUT_S = 30.0
# The node is local; a proxy variable in the environment must not reroute.
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]
ErrorKind = tether_client.errors.ErrorKind


def start_node(test, name, *extra_args):
    """Starts an actor_node of the test's tree (node_harness.token_flag())
    for the rest of the test; returns its address."""
    node = test.enterContext(node_harness.NodeProcess(
        [f"--name={name}", "--listen=127.0.0.1:0", node_harness.token_flag(),
         *extra_args]))
    return node.wait_listening()


def wait_until(predicate, what, timeout=TIMEOUT_S):
    """Polls `predicate` (an RPC-backed check) until true; fails after
    `timeout`. Each poll is itself a bounded RPC, so no sleep is needed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
    raise AssertionError(f"not within {timeout} s: {what}")


class ClientTest(unittest.TestCase):
    """One fresh node per test, reached as self.actor."""

    def setUp(self):
        self.address = start_node(self, "pynode")
        self.me = tether_client.new_identity("py-test")
        self.actor = self.enterContext(tether_client.connect(
            self.address, me=self.me, channel_options=CHANNEL_OPTIONS,
            token=node_harness.tree_token()))
        self.node_id = tether_client.ActorId.from_proto(
            self.actor.info().id)

    def open_contexts(self):
        """The contexts the node has open right now."""
        return list(self.actor.info().contexts)

    # Plain calls. ---------------------------------------------------------

    def test_run_echo_round_trips_json_values(self):
        args = {"text": "héllo", "n": 3, "ratio": 0.5, "ok": True,
                "nothing": None, "list": [1, "two", [3], {"four": 4}]}
        self.assertEqual(self.actor.run("echo", args, timeout=TIMEOUT_S),
                         args)
        self.assertIsNone(self.actor.run("echo", timeout=TIMEOUT_S))
        self.assertEqual(self.actor.run("echo", "plain", timeout=TIMEOUT_S),
                         "plain")

    def test_run_echo_round_trips_a_typed_message(self):
        sent = _proto.identity_pb2.ActorId(name="typed", uuid="u-1")
        got = self.actor.run("echo", sent, timeout=TIMEOUT_S)
        self.assertIsInstance(got, any_pb2.Any)
        self.assertEqual(got.type_url,
                         "type.googleapis.com/tether.v1.ActorId")
        self.assertTrue(got.Is(_proto.identity_pb2.ActorId.DESCRIPTOR))
        back = _proto.identity_pb2.ActorId()
        got.Unpack(back)
        self.assertEqual(back, sent)

    def test_run_fail_raises_the_boxed_error(self):
        with self.assertRaises(tether_client.RemoteActorError) as caught:
            self.actor.run("fail", {"type": "ValueError", "message": "boom"},
                           timeout=TIMEOUT_S)
        err = caught.exception
        self.assertIs(type(err), tether_client.RemoteActorError)
        self.assertEqual(err.kind, ErrorKind.ERROR_KIND_APPLICATION)
        self.assertEqual((err.boxed_type, err.message), ("ValueError", "boom"))
        self.assertEqual(str(err), "ValueError: boom")
        self.assertEqual(err.source, self.node_id)
        self.assertEqual(err.source_uid, self.node_id.uuid)
        self.assertEqual(err.relay_path, [self.node_id])
        self.assertEqual(err.function, "fail")

    def test_unknown_function_and_kind_mismatch_are_refused(self):
        with self.assertRaises(tether_client.RemoteActorError) as caught:
            self.actor.run("no_such_function", timeout=TIMEOUT_S)
        self.assertEqual(caught.exception.kind,
                         ErrorKind.ERROR_KIND_NO_SUCH_FUNCTION)
        with self.assertRaises(tether_client.RemoteActorError) as caught:
            self.actor.run("counter", {"n": 1}, timeout=TIMEOUT_S)
        self.assertEqual(caught.exception.kind,
                         ErrorKind.ERROR_KIND_BAD_ARGUMENT)
        with self.assertRaises(tether_client.RemoteActorError) as caught:
            self.actor.open_context("counter", {"n": "3"}, timeout=TIMEOUT_S)
        self.assertEqual(caught.exception.kind,
                         ErrorKind.ERROR_KIND_BAD_ARGUMENT)
        self.assertIn("n", caught.exception.message)

    def test_a_result_too_large_for_this_client_is_refused_by_the_callee(self):
        # Start announces the channel's receive limit, so the node refuses
        # a result that could not reach this client, and says why; the
        # channel and later calls are unharmed.
        options = list(CHANNEL_OPTIONS) + [
            ("grpc.max_receive_message_length", 1000)]
        with tether_client.connect(self.address, me=self.me,
                                   channel_options=options,
                                   token=node_harness.tree_token()) as small:
            with self.assertRaises(tether_client.RemoteActorError) as caught:
                small.run("echo", "x" * 2000, timeout=TIMEOUT_S)
            self.assertIn("the result cannot be sent", caught.exception.message)
            self.assertIn("a frame the receiver accepts (1000 bytes)",
                          caught.exception.message)
            self.assertEqual(small.run("echo", "x" * 500, timeout=TIMEOUT_S),
                             "x" * 500)

    # Streams. -------------------------------------------------------------

    def test_counter_streams_then_returns(self):
        with self.actor.open_context("counter", {"n": 5},
                                     timeout=TIMEOUT_S) as ctx:
            self.assertEqual(ctx.started, 0)
            self.assertEqual(ctx.callee, self.node_id)
            with ctx.open_stream() as stream:
                self.assertEqual(list(stream), [1, 2, 3, 4, 5])
                with self.assertRaises(tether_client.EndOfStream):
                    stream.receive(timeout=TIMEOUT_S)
            self.assertEqual(ctx.result(timeout=TIMEOUT_S), 5)

    def test_echo_stream_both_ways(self):
        with self.actor.open_context("echo_stream", {},
                                     timeout=TIMEOUT_S) as ctx:
            self.assertIsNone(ctx.started)
            with ctx.open_stream() as stream:
                # Lock step: each value comes back before the next is sent.
                for value in (1, "two", [3, {"four": None}], True):
                    stream.send(value)
                    self.assertEqual(stream.receive(timeout=TIMEOUT_S), value)
                # Pipelined: many in flight, then read back in order.
                for i in range(50):
                    stream.send(i)
                self.assertEqual(
                    [stream.receive(timeout=TIMEOUT_S) for _ in range(50)],
                    list(range(50)))
                typed = _proto.identity_pb2.ActorId(name="t", uuid="u")
                stream.send(typed)
                echoed = stream.receive(timeout=TIMEOUT_S)
                self.assertEqual(echoed.value, typed.SerializeToString())
                stream.close()
                self.assertEqual(list(stream), [], "nothing after our Stop")
                with self.assertRaises(tether_client.StreamClosed):
                    stream.send("late")
            self.assertEqual(ctx.result(timeout=TIMEOUT_S), 55)

    def test_leaving_the_block_half_closes_as_stop(self):
        # The stream is never closed: the block's exit half-closes the
        # request stream, which echo_stream takes as Stop, and returns.
        with self.actor.open_context("echo_stream", {},
                                     timeout=TIMEOUT_S) as ctx:
            stream = ctx.open_stream()
            stream.send("a")
            stream.send("b")
            self.assertEqual(stream.receive(timeout=TIMEOUT_S), "a")
        self.assertEqual(ctx.result(timeout=0), 2)

    # Cancellation. --------------------------------------------------------

    def test_cancel_is_absorbed_and_names_this_client(self):
        with self.actor.open_context("sleep_forever", {},
                                     timeout=TIMEOUT_S) as ctx:
            stream = ctx.open_stream()
            ctx.cancel()
            self.assertTrue(ctx.cancel_called)
            # The callee's answer ends the stream with ContextCancelled;
            # the block lets it out and its exit absorbs it.
            stream.receive(timeout=TIMEOUT_S)
            self.fail("receive() returned after cancel")
        with self.assertRaises(tether_client.ContextCancelled) as caught:
            ctx.result(timeout=0)
        err = caught.exception
        self.assertEqual(err.kind, ErrorKind.ERROR_KIND_CONTEXT_CANCELLED)
        self.assertEqual(err.boxed_type, "tether.ContextCancelled")
        self.assertEqual(err.canceller, self.me,
                         "the canceller is the Python client's identity")
        self.assertEqual(err.source, self.node_id)
        self.assertEqual(err.context_id, ctx.id)
        # One context ended, not the actor.
        self.assertEqual(self.actor.run("echo", 1, timeout=TIMEOUT_S), 1)

    def test_cancel_then_normal_exit_is_absorbed(self):
        with self.actor.open_context("sleep_forever", {},
                                     timeout=TIMEOUT_S) as ctx:
            ctx.cancel()
        wait_until(lambda: not self.open_contexts(),
                   "the node forgot the cancelled context")

    def test_block_error_cancels_the_callee(self):
        class Oops(Exception):
            pass

        with self.assertRaises(Oops):
            with self.actor.open_context("sleep_forever", {},
                                         timeout=TIMEOUT_S,
                                         cancel_timeout=TIMEOUT_S) as ctx:
                self.assertEqual(len(self.open_contexts()), 1)
                raise Oops("in the block")
        with self.assertRaises(tether_client.ContextCancelled) as caught:
            ctx.result(timeout=0)
        self.assertEqual(caught.exception.canceller, self.me)
        wait_until(lambda: not self.open_contexts(),
                   "the node forgot the cancelled context")

    def test_actor_cancel_by_another_is_not_absorbed(self):
        other = tether_client.new_identity("py-other")
        with tether_client.connect(self.address, me=other,
                                   channel_options=CHANNEL_OPTIONS,
                                   token=node_harness.tree_token()) as second:
            with self.assertRaises(tether_client.ContextCancelled) as caught:
                with self.actor.open_context("sleep_forever", {},
                                             timeout=TIMEOUT_S) as ctx:
                    self.assertEqual(second.cancel_actor(timeout=TIMEOUT_S),
                                     self.node_id)
                    ctx.result(timeout=TIMEOUT_S)
        self.assertEqual(caught.exception.canceller, other)

    # Errors. --------------------------------------------------------------

    def test_relayed_error_carries_a_two_hop_path(self):
        # Python -> this node (call_peer) -> peer (fail). The peer joins
        # the node's registrar: call_peer dials only actors registered there.
        peer_address = start_node(self, "peer", f"--registry={self.address}")
        with tether_client.connect(peer_address,
                                   channel_options=CHANNEL_OPTIONS,
                                   token=node_harness.tree_token()) as peer:
            peer_id = tether_client.ActorId.from_proto(
                peer.info(timeout=TIMEOUT_S).id)
        with self.assertRaises(tether_client.RemoteActorError) as caught:
            self.actor.run("call_peer", {
                "address": peer_address, "function": "fail",
                "args": {"type": "KeyError", "message": "relayed"}},
                timeout=TIMEOUT_S)
        err = caught.exception
        self.assertEqual((err.boxed_type, err.message), ("KeyError", "relayed"))
        self.assertEqual(err.source, peer_id)
        self.assertEqual(err.relay_path, [peer_id, self.node_id])
        self.assertIn("relay path: ", err.describe())
        # And a result relays back the same way.
        self.assertEqual(self.actor.run("call_peer", {
            "address": peer_address, "function": "echo", "args": [1, "x"]},
            timeout=TIMEOUT_S), [1, "x"])

    def test_call_peer_dials_only_actors_of_its_registry(self):
        # A node of the same tree that registered elsewhere: not dialed.
        stranger_address = start_node(self, "stranger")
        with self.assertRaises(tether_client.RemoteActorError) as caught:
            self.actor.run("call_peer", {
                "address": stranger_address, "function": "echo", "args": 1},
                timeout=TIMEOUT_S)
        self.assertIn("registered in this actor's registry",
                      caught.exception.message)
        with tether_client.connect(stranger_address,
                                   channel_options=CHANNEL_OPTIONS,
                                   token=node_harness.tree_token()) as s:
            self.assertEqual(s.info(timeout=TIMEOUT_S).contexts_served, 0,
                             "the stranger was called")

    def test_overrun_of_our_buffer_names_the_callee(self):
        with self.assertRaises(tether_client.StreamOverrun) as caught:
            with self.actor.open_context("counter", {"n": 100},
                                         buffer_size=4,
                                         timeout=TIMEOUT_S) as ctx:
                # Nothing is read, so the fifth value overflows the buffer.
                ctx.result(timeout=TIMEOUT_S)
        err = caught.exception
        self.assertEqual(err.kind, ErrorKind.ERROR_KIND_STREAM_OVERRUN)
        self.assertEqual(err.sender, self.node_id,
                         "the sender is the actor whose data overran us")
        self.assertEqual(err.source, self.me)

    def test_allow_overruns_keeps_every_value(self):
        with self.actor.open_context("counter", {"n": 100}, buffer_size=4,
                                     allow_overruns=True,
                                     timeout=TIMEOUT_S) as ctx:
            self.assertEqual(ctx.result(timeout=TIMEOUT_S), 100)
            self.assertEqual(list(ctx.open_stream()), list(range(1, 101)))

    def test_unreachable_actor_is_transport_closed(self):
        with node_harness.socket_dir() as directory:
            address = f"unix:{directory}/nobody.sock"
            with tether_client.connect(
                    address, token=node_harness.tree_token()) as nobody:
                with self.assertRaises(tether_client.TransportClosed) as caught:
                    nobody.run("echo", 1, timeout=TIMEOUT_S)
        self.assertEqual(caught.exception.kind,
                         ErrorKind.ERROR_KIND_TRANSPORT_CLOSED)
        self.assertIsNone(caught.exception.source)


class RegistrarTest(unittest.TestCase):
    """Name lookups through the registrar a standalone node hosts."""

    def setUp(self):
        self.root_address = start_node(self, "root")
        self.registrar = self.enterContext(tether_client.Registrar(
            self.root_address, channel_options=CHANNEL_OPTIONS,
            token=node_harness.tree_token()))

    def start_worker(self, name):
        address = start_node(self, name, f"--registry={self.root_address}")
        with tether_client.connect(address,
                                   channel_options=CHANNEL_OPTIONS,
                                   token=node_harness.tree_token()) as actor:
            return tether_client.ActorId.from_proto(
                actor.info(timeout=TIMEOUT_S).id)

    def test_find_by_name_newest_first(self):
        self.assertEqual(self.registrar.find("worker"), [])
        with self.assertRaises(LookupError):
            self.registrar.find_actor("worker")
        older = self.start_worker("worker")
        self.assertEqual(
            [e.actor.id.uuid for e in self.registrar.wait("worker", TIMEOUT_S)],
            [older.uuid])
        newer = self.start_worker("worker")
        wait_until(lambda: len(self.registrar.find("worker")) == 2,
                   "the second worker registered")
        uuids = [e.actor.id.uuid for e in self.registrar.find("worker")]
        self.assertEqual(uuids, [newer.uuid, older.uuid], "newest first")
        with self.registrar.find_actor("worker") as actor:
            self.assertEqual(actor.info(timeout=TIMEOUT_S).id.uuid,
                             newer.uuid)
            self.assertEqual(actor.run("echo", "via registrar",
                                       timeout=TIMEOUT_S), "via registrar")

    def test_wait_for_a_name_that_appears_later(self):
        found = {}

        def wait():
            try:
                found["actor"] = self.registrar.wait_for_actor(
                    "late", timeout=WAIT_TIMEOUT_S)
            except Exception as err:  # Reported by the assertions below.
                found["error"] = err

        waiter = threading.Thread(target=wait, name="wait-late")
        waiter.start()
        self.assertEqual(self.registrar.find("late"), [],
                         "the name must not exist before the node starts")
        late = self.start_worker("late")
        waiter.join(WAIT_TIMEOUT_S + 5)
        self.assertFalse(waiter.is_alive(), "Wait did not return")
        self.assertNotIn("error", found)
        with found["actor"] as actor:
            self.assertEqual(actor.info(timeout=TIMEOUT_S).id.uuid, late.uuid)

    def test_wait_times_out(self):
        with self.assertRaises(TimeoutError):
            self.registrar.wait("never", timeout=0.3)


class CredentialsTest(unittest.TestCase):
    """How the client finds the tree's token, and what a refusal looks like
    (docs/security.md)."""

    def test_a_local_root_is_reached_without_being_given_its_token(self):
        # A node of a tree of its own, started with no flag about tokens:
        # the client takes its token from the root's record on this
        # machine, as actorctl does.
        node = self.enterContext(node_harness.NodeProcess(
            ["--name=zero-config", "--listen=127.0.0.1:0"]))
        address = node.wait_listening()
        with tether_client.connect(address,
                                   channel_options=CHANNEL_OPTIONS) as actor:
            self.assertEqual(actor.run("echo", "hi", timeout=TIMEOUT_S), "hi")
        with tether_client.Registrar(
                address, channel_options=CHANNEL_OPTIONS) as registrar:
            with registrar.find_actor("zero-config") as found:
                self.assertEqual(found.run("echo", 2, timeout=TIMEOUT_S), 2)

    def test_another_trees_token_is_refused_and_nothing_runs(self):
        address = start_node(self, "guarded")
        stranger = os.urandom(32).hex()
        with tether_client.connect(address, channel_options=CHANNEL_OPTIONS,
                                   token=stranger) as outsider:
            with self.assertRaises(tether_client.Unauthenticated):
                outsider.info(timeout=TIMEOUT_S)
            with self.assertRaises(tether_client.Unauthenticated):
                outsider.run("echo", 1, timeout=TIMEOUT_S)
            with self.assertRaises(tether_client.Unauthenticated):
                outsider.cancel_actor(timeout=TIMEOUT_S)
        with tether_client.connect(
                address, channel_options=CHANNEL_OPTIONS,
                token=node_harness.tree_token()) as insider:
            info = insider.info(timeout=TIMEOUT_S)
            self.assertEqual(info.contexts_served, 0)
            self.assertEqual(insider.run("echo", 3, timeout=TIMEOUT_S), 3)

    def test_a_token_file_others_can_read_is_refused(self):
        directory = self.enterContext(node_harness.socket_dir())
        path = os.path.join(directory, "open.token")
        with open(path, "w", encoding="ascii") as file:
            file.write(node_harness.tree_token())
        os.chmod(path, 0o644)
        with self.assertRaises(tether_client.CredentialsError) as caught:
            tether_client.connect("127.0.0.1:1", token_file=path)
        self.assertIn("chmod 600", str(caught.exception))
        self.assertNotIn(node_harness.tree_token(), str(caught.exception))

    def test_no_token_for_an_address_no_local_root_serves_says_so(self):
        with node_harness.socket_dir() as directory:
            address = f"unix:{directory}/nobody.sock"
            with self.assertRaises(tether_client.CredentialsError) as caught:
                tether_client.connect(address)
        self.assertIn(address, str(caught.exception))
        self.assertIn("token_file", str(caught.exception))


if __name__ == "__main__":
    node_harness.run_tests()
