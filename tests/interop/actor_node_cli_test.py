#!/usr/bin/python3
"""The actor_node command-line contract, checked from outside the process.

Bad invocations fail fast with one line on stderr and a non-zero exit (never
a signal, never a hang); SIGTERM, SIGINT and Actor/Cancel end a serving node
with exit code 0, promptly.
"""

import os
import signal
import stat
import sys
import time
import unittest
import uuid

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402
import proto_stubs  # noqa: E402

RPC_TIMEOUT_S = 5.0
# How soon after SIGTERM/SIGINT the node must have exited (and been reaped).
SIGNAL_EXIT_BUDGET_S = 1.0
# How soon a node whose registry refuses connections must give up.
REFUSED_REGISTRY_BUDGET_S = 2.0
# A registry that never answers: the node gives up after its registration
# timeout (5 s); this much later it must have exited.
SILENT_REGISTRY_BUDGET_S = 8.0
# actor_node's exit code for a bad invocation.
EXIT_USAGE = 2


def _serving(stubs, address):
    """Whether the node at `address` answers a health check with SERVING."""
    health = stubs.health
    with proto_stubs.channel(address) as channel:
        response = stubs.health_grpc.HealthStub(channel).Check(
            health.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT_S)
    return response.status == health.HealthCheckResponse.SERVING


def _address_needle(address):
    """What an error about `address` must name: its unix path or TCP port."""
    if address.startswith("unix:"):
        return address[len("unix:"):]
    return address.rpartition(":")[2]


class BadInvocationTest(unittest.TestCase):
    """Each bad invocation: non-zero exit, one line on stderr naming it."""

    def assertCleanFailure(self, args, needle,
                           timeout=node_harness.EXIT_TIMEOUT_S):
        """Runs actor_node with args; checks a clean failure naming needle.

        Returns the exit code.
        """
        returncode, stdout, stderr = node_harness.run_to_exit(args, timeout)
        context = (f"actor_node {' '.join(args)}: exit {returncode}, "
                   f"stdout {stdout!r}, stderr {stderr!r}")
        self.assertGreaterEqual(returncode, 0,
                                f"killed by signal {-returncode}; {context}")
        self.assertNotEqual(returncode, 0, f"must fail; {context}")
        self.assertEqual(len(stderr), 1,
                         f"want exactly one line on stderr; {context}")
        self.assertTrue(stderr[0].strip(), f"empty error line; {context}")
        self.assertIn(needle, stderr[0],
                      f"error line must name {needle!r}; {context}")
        self.assertFalse(
            any(node_harness.LISTENING_LINE.match(line) for line in stdout),
            f"a failed node must not claim to listen; {context}")
        return returncode

    def test_unknown_flag(self):
        self.assertCleanFailure(
            ["--name=cli", "--listen=127.0.0.1:0", "--bogus"], "bogus")

    def test_malformed_addresses(self):
        for address in ("nonsense", "127.0.0.1:99999", "unix:", "127.0.0.1:",
                        "127.0.0.1:-1"):
            with self.subTest(address=address):
                self.assertCleanFailure(
                    ["--name=cli", f"--listen={address}"], address)

    def test_malformed_registry(self):
        for registry in ("nonsense", "127.0.0.1:", "unix:", "127.0.0.1:99999",
                         "127.0.0.1:0,"):
            with self.subTest(registry=registry):
                returncode = self.assertCleanFailure(
                    ["--name=cli", "--listen=127.0.0.1:0",
                     f"--registry={registry}"], "--registry")
                self.assertEqual(returncode, EXIT_USAGE)

    def test_registry_refusing_connections(self):
        with node_harness.refusing_port() as port:
            registry = f"127.0.0.1:{port}"
            start = time.monotonic()
            self.assertCleanFailure(
                ["--name=cli", "--listen=127.0.0.1:0",
                 f"--registry={registry}"], registry)
            elapsed = time.monotonic() - start
        self.assertLess(elapsed, REFUSED_REGISTRY_BUDGET_S,
                        "a refused registry must fail the node at once")

    def test_registry_that_never_answers(self):
        with node_harness.occupied_port() as port:
            registry = f"127.0.0.1:{port}"
            start = time.monotonic()
            self.assertCleanFailure(
                ["--name=cli", "--listen=127.0.0.1:0",
                 f"--registry={registry}"], registry,
                timeout=SILENT_REGISTRY_BUDGET_S)
            elapsed = time.monotonic() - start
        self.assertLess(elapsed, SILENT_REGISTRY_BUDGET_S)

    def test_port_in_use(self):
        with node_harness.occupied_port() as port:
            self.assertCleanFailure(
                ["--name=cli", f"--listen=127.0.0.1:{port}"], str(port))

    def test_port_served_by_live_node(self):
        self._check_address_taken("127.0.0.1:0")

    def test_unix_path_served_by_live_node(self):
        directory = self.enterContext(node_harness.socket_dir())
        self._check_address_taken(
            "unix:" + os.path.join(directory, "node.sock"))

    def test_unix_socket_is_private_whatever_the_umask(self):
        directory = self.enterContext(node_harness.socket_dir())
        path = os.path.join(directory, "node.sock")
        umask = os.umask(0)
        try:
            node = self.enterContext(node_harness.NodeProcess(
                ["--name=private", f"--listen=unix:{path}"]))
        finally:
            os.umask(umask)
        node.wait_listening()
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def _check_address_taken(self, listen):
        """A second node on a live node's address fails; the first lives on."""
        stubs = proto_stubs.load()
        with node_harness.NodeProcess(
                ["--name=first", f"--listen={listen}"]) as first:
            address = first.wait_listening()
            self.assertCleanFailure(["--name=second", f"--listen={address}"],
                                    _address_needle(address))
            self.assertTrue(
                _serving(stubs, address),
                f"{address} must still be served by the first node")


class ShutdownTest(unittest.TestCase):
    """A serving node ends cleanly on a signal or a Cancel request."""

    def start(self, name):
        """Starts a TCP node; returns (node, address)."""
        node = self.enterContext(node_harness.NodeProcess(
            [f"--name={name}", "--listen=127.0.0.1:0",
             node_harness.token_flag()]))
        return node, node.wait_listening()

    def check_signal_exit(self, signum):
        name = f"sig{signum}"
        node, address = self.start(name)
        start = time.monotonic()
        os.kill(node.pid, signum)
        returncode = node.wait_exit()
        elapsed = time.monotonic() - start
        stdout, stderr = node.output()
        context = (f"{node.command()}: exit {returncode} after "
                   f"{elapsed:.3f} s; stderr {stderr!r}")
        self.assertEqual(returncode, 0, f"exit status after signal; {context}")
        self.assertLess(elapsed, SIGNAL_EXIT_BUDGET_S,
                        f"exit too slow; {context}")
        self.assertEqual(
            stdout, [f"tether: actor {name} listening on {address}"],
            "stdout must hold exactly the listening line")

    def test_sigterm_exits_zero_promptly(self):
        self.check_signal_exit(signal.SIGTERM)

    def test_sigint_exits_zero_promptly(self):
        self.check_signal_exit(signal.SIGINT)

    def test_cancel_rpc_answers_then_exits_zero(self):
        stubs = proto_stubs.load()
        node, address = self.start("cancelled")
        requester = stubs.identity.ActorId(name="cli-test",
                                           uuid=str(uuid.uuid4()))
        with proto_stubs.channel(address,
                                 token=node_harness.tree_token()) as channel:
            actor = stubs.actor_grpc.ActorStub(channel)
            info = actor.Info(stubs.actor.InfoRequest(),
                              timeout=RPC_TIMEOUT_S)
            response = actor.Cancel(
                stubs.actor.CancelActorRequest(requester=requester,
                                               reason="test"),
                timeout=RPC_TIMEOUT_S)
        self.assertEqual(response.actor, info.id,
                         "Cancel must answer with the node's own id")
        returncode = node.wait_exit()
        _, stderr = node.output()
        self.assertEqual(returncode, 0, f"exit status after Cancel; stderr "
                         f"{stderr!r}")


if __name__ == "__main__":
    node_harness.run_tests()
