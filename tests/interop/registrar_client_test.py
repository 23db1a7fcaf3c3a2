#!/usr/bin/python3
"""tether.v1.Registrar from a plain Python gRPC client.

A standalone actor_node (no --registry) hosts the embedded registrar;
nodes started with --registry=<its address> register there. The test
speaks to it with nothing but stubs generated from the repository's
protos and stock gRPC: List, Find, Wait with a deadline, Register and
Unregister, and Hold.

Every wait has a deadline (gRPC deadlines, polls bounded in time), and a
hang guard fails a test that runs past its limit; the harness kills every
node a test started.
"""

import os
import signal
import sys
import time
import unittest
import uuid

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import node_harness  # noqa: E402
import proto_stubs  # noqa: E402

RPC_TIMEOUT_S = 5.0
# A Wait that must end by its own deadline, and how late it may be.
SHORT_WAIT_S = 0.5
DEADLINE_SLACK_S = 1.0
# A Wait that a node starting meanwhile must satisfy.
LONG_WAIT_S = 20.0
# An entry whose holder went away must leave the registry within this.
GONE_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.01
TEST_LIMIT_S = 60


class RegistrarClientTest(unittest.TestCase):
    """Registrar calls against an actor_node's embedded registrar."""

    def setUp(self):
        self.enterContext(node_harness.hang_guard(TEST_LIMIT_S, self.id()))
        self.stubs = proto_stubs.load()
        self.registrar_node = self.enterContext(node_harness.NodeProcess(
            ["--name=registrar", "--listen=127.0.0.1:0",
             node_harness.token_flag()]))
        self.registry = self.registrar_node.wait_listening()
        channel = self.enterContext(proto_stubs.channel(
            self.registry, token=node_harness.tree_token()))
        self.registrar = self.stubs.registrar_grpc.RegistrarStub(channel)

    def start_node(self, name):
        """Starts a node registered here; returns (node, its address).

        The node prints its listening line after the registry confirmed
        its registration.
        """
        node = self.enterContext(node_harness.NodeProcess(
            [f"--name={name}", "--listen=127.0.0.1:0",
             f"--registry={self.registry}", node_harness.token_flag()]))
        return node, node.wait_listening()

    def entry(self, name, address=None):
        """A registry entry for `name` with a fresh uuid."""
        stubs = self.stubs
        return stubs.registrar.RegistryEntry(
            actor=stubs.identity.ActorRef(
                id=stubs.identity.ActorId(name=name, uuid=str(uuid.uuid4())),
                addresses=[address or self.registry]),
            pid=os.getpid())

    def list_entries(self):
        return list(self.registrar.List(self.stubs.registrar.ListRequest(),
                                        timeout=RPC_TIMEOUT_S).entries)

    def find(self, name):
        return list(self.registrar.Find(
            self.stubs.registrar.FindRequest(name=name),
            timeout=RPC_TIMEOUT_S).entries)

    def await_unregistered(self, name):
        """Waits until `name` has no entry; fails after GONE_TIMEOUT_S."""
        deadline = time.monotonic() + GONE_TIMEOUT_S
        while self.find(name):
            if time.monotonic() >= deadline:
                self.fail(f"{name} still registered after {GONE_TIMEOUT_S} s:"
                          f" {self.find(name)}")
            time.sleep(POLL_INTERVAL_S)

    def test_list_holds_the_registrar_and_its_nodes(self):
        _, worker_address = self.start_node("worker")
        entries = self.list_entries()
        self.assertEqual([e.actor.id.name for e in entries],
                         ["registrar", "worker"], "ordered by name")
        registrar, worker = entries
        self.assertEqual(list(registrar.actor.addresses), [self.registry])
        self.assertEqual(registrar.pid, self.registrar_node.pid)
        self.assertFalse(registrar.HasField("parent"),
                         "a standalone node has no parent")
        self.assertEqual(list(worker.actor.addresses), [worker_address])
        self.assertTrue(worker.HasField("registered_at"))
        self.assertGreater(worker.registered_at.seconds, 0)

    def test_find_returns_the_entries_of_a_name(self):
        worker, worker_address = self.start_node("worker")
        found = self.find("worker")
        self.assertEqual(len(found), 1, found)
        self.assertEqual(list(found[0].actor.addresses), [worker_address])
        self.assertEqual(found[0].pid, worker.pid)
        self.assertEqual(self.find("nobody"), [])

    def test_find_answers_newest_first(self):
        older, _ = self.start_node("twin")
        newer, _ = self.start_node("twin")
        found = self.find("twin")
        self.assertEqual([e.pid for e in found], [newer.pid, older.pid],
                         "newest first")
        stamps = [e.registered_at.ToNanoseconds() for e in found]
        self.assertGreaterEqual(stamps[0], stamps[1])

    def test_wait_returns_once_the_name_registers(self):
        waiting = self.registrar.Wait.future(
            self.stubs.registrar.WaitRequest(name="late"),
            timeout=LONG_WAIT_S)
        self.addCleanup(waiting.cancel)
        self.assertFalse(waiting.done(),
                         "Wait must not answer before the name registers")
        late, late_address = self.start_node("late")
        response = waiting.result(timeout=LONG_WAIT_S)
        self.assertEqual([e.pid for e in response.entries], [late.pid])
        self.assertEqual(list(response.entries[0].actor.addresses),
                         [late_address])

    def test_wait_ends_by_its_deadline(self):
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as raised:
            self.registrar.Wait(self.stubs.registrar.WaitRequest(name="never"),
                                timeout=SHORT_WAIT_S)
        elapsed = time.monotonic() - start
        self.assertEqual(raised.exception.code(),
                         grpc.StatusCode.DEADLINE_EXCEEDED,
                         raised.exception.details())
        self.assertLess(elapsed, SHORT_WAIT_S + DEADLINE_SLACK_S)
        # The registrar still serves after a wait it had to drop.
        self.assertEqual(self.find("never"), [])

    def test_wait_needs_a_name(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.registrar.Wait(self.stubs.registrar.WaitRequest(),
                                timeout=RPC_TIMEOUT_S)
        self.assertEqual(raised.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)

    def test_register_then_unregister(self):
        registrar = self.stubs.registrar
        entry = self.entry("py-client")
        self.registrar.Register(registrar.RegisterRequest(entry=entry),
                                timeout=RPC_TIMEOUT_S)
        found = self.find("py-client")
        self.assertEqual(len(found), 1, found)
        self.assertEqual(found[0].actor, entry.actor)
        self.assertTrue(found[0].HasField("registered_at"))

        uuid_text = entry.actor.id.uuid
        removed = self.registrar.Unregister(
            registrar.UnregisterRequest(uuid=uuid_text, reason="test done"),
            timeout=RPC_TIMEOUT_S)
        self.assertTrue(removed.removed)
        self.assertEqual(self.find("py-client"), [])
        again = self.registrar.Unregister(
            registrar.UnregisterRequest(uuid=uuid_text),
            timeout=RPC_TIMEOUT_S)
        self.assertFalse(again.removed, "removing an absent entry is no error")

    def test_register_refuses_entries_it_cannot_use(self):
        registrar = self.stubs.registrar
        no_address = self.entry("py-client")
        del no_address.actor.addresses[:]
        bad_address = self.entry("py-client", address="nonsense")
        no_uuid = self.entry("py-client")
        no_uuid.actor.id.uuid = ""
        for label, entry, needle in (("no address", no_address, "address"),
                                     ("bad address", bad_address, "nonsense"),
                                     ("no uuid", no_uuid, "uuid")):
            with self.subTest(label):
                with self.assertRaises(grpc.RpcError) as raised:
                    self.registrar.Register(
                        registrar.RegisterRequest(entry=entry),
                        timeout=RPC_TIMEOUT_S)
                self.assertEqual(raised.exception.code(),
                                 grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn(needle, raised.exception.details())
        self.assertEqual(self.find("py-client"), [])

    def test_hold_keeps_the_entry_while_the_call_is_open(self):
        entry = self.entry("py-holder")
        call = self.registrar.Hold(
            self.stubs.registrar.RegisterRequest(entry=entry),
            timeout=TEST_LIMIT_S)
        self.addCleanup(call.cancel)
        confirmation = next(call)
        self.assertEqual(confirmation.entry.actor, entry.actor)
        self.assertTrue(confirmation.entry.HasField("registered_at"))
        found = self.find("py-holder")
        self.assertEqual([e.actor.id.uuid for e in found],
                         [entry.actor.id.uuid])
        call.cancel()
        self.await_unregistered("py-holder")

    def test_node_that_stops_leaves_the_registry(self):
        worker, _ = self.start_node("worker")
        self.assertEqual(len(self.find("worker")), 1)
        os.kill(worker.pid, signal.SIGTERM)
        self.assertEqual(worker.wait_exit(), 0)
        # It unregisters before it stops answering.
        self.assertEqual(self.find("worker"), [])


if __name__ == "__main__":
    node_harness.run_tests()
