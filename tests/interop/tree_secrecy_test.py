#!/usr/bin/python3
"""The tree's token stays secret while a tree runs, is attacked and crashes.

tests/trees/tree_root's `tree` scenario runs a root with two children and a
grandchild under each, five processes, all of one tree. The token the root
made reaches the test only the way it reaches any tool of the same user on
this machine: from the root's private record (tether_client.credentials).
Then, for every process of the tree:

  - the token is in no /proc/PID/cmdline and no /proc/PID/environ;
  - no field of its Actor/Info holds it;
  - calls without it (none, another tree's, one differing in its last
    digit) are refused with UNAUTHENTICATED, and each refusal is logged
    with the caller's address;

and after a grandchild crashes (SIGSEGV, so its crash report is printed)
and the root is stopped, no line the tree wrote holds the token.
"""

import contextlib
import ctypes
import os
import re
import signal
import sys
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402

sys.path.insert(0, node_harness.runfile("client/python"))

import grpc  # noqa: E402
import tether_client  # noqa: E402
from tether_client import _proto  # noqa: E402

TREE_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 10.0
TEST_LIMIT_S = 240
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]
_PR_SET_CHILD_SUBREAPER = 36


def tree_root_binary():
    if os.environ.get("TEST_SRCDIR"):
        return node_harness.runfile("tests/trees/tree_root")
    return node_harness.runfile("bazel-bin/tests/trees/tree_root")


def read_proc(pid, name):
    with open(f"/proc/{pid}/{name}", "rb") as file:
        return file.read()


def reap_group(pgid):
    """SIGKILLs what is left of process group `pgid` and reaps the members
    this process adopted (SIGKILLed, they exit at once)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-pgid, 0)
        except ChildProcessError:
            return


class TreeSecrecyTest(unittest.TestCase):

    def setUp(self):
        self.enterContext(node_harness.hang_guard(TEST_LIMIT_S, self.id()))
        # Orphans of the tree come to this process, which reaps them.
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_CHILD_SUBREAPER")
        self.root = self.enterContext(node_harness.NodeProcess(
            ["--scenario=tree"], binary=tree_root_binary()))
        self.addCleanup(reap_group, self.root.pid)
        self.address = self.root.wait_listening(TREE_TIMEOUT_S)
        pids = self.root.wait_for_stdout(r"^observed tree_pids=([0-9,]+)$",
                                         TREE_TIMEOUT_S).group(1)
        self.root.wait_for_stdout(r"^observed tree=ready$", TREE_TIMEOUT_S)
        self.pids = [self.root.pid] + [int(p) for p in pids.split(",")]
        self.token = tether_client.credentials.local_root_token(self.address)
        self.assertIsNotNone(self.token, "the root recorded no token")

    def addresses(self):
        """Every actor of the tree: its registry entries' first address."""
        with tether_client.Registrar(self.address, token=self.token,
                                     channel_options=CHANNEL_OPTIONS) as reg:
            entries = reg.list(timeout=RPC_TIMEOUT_S)
        return {entry.pid: entry.actor.addresses[0] for entry in entries}

    def outsider_tokens(self):
        last = "0" if self.token[-1] != "0" else "1"
        return [None, os.urandom(32).hex(), self.token[:-1] + last]

    def test_the_token_stays_secret(self):
        for pid in self.pids:
            for name in ("cmdline", "environ"):
                self.assertNotIn(self.token.encode(), read_proc(pid, name),
                                 f"/proc/{pid}/{name} holds the token")

        addresses = self.addresses()
        self.assertEqual(set(addresses), set(self.pids))
        for pid, address in addresses.items():
            with tether_client.connect(address, token=self.token,
                                       channel_options=CHANNEL_OPTIONS) as a:
                info = a.info(timeout=RPC_TIMEOUT_S)
            self.assertNotIn(self.token.encode(), info.SerializeToString(),
                             f"Info of pid {pid} holds the token")
            self.assertNotIn(self.token, str(info))

            for outsider in self.outsider_tokens():
                metadata = [] if outsider is None else [
                    ("authorization", f"Bearer {outsider}")]
                with grpc.insecure_channel(address,
                                           options=CHANNEL_OPTIONS) as channel:
                    stub = _proto.actor_pb2_grpc.ActorStub(channel)
                    with self.assertRaises(grpc.RpcError) as refused:
                        stub.Info(_proto.actor_pb2.InfoRequest(),
                                  timeout=RPC_TIMEOUT_S, metadata=metadata)
                self.assertEqual(refused.exception.code(),
                                 grpc.StatusCode.UNAUTHENTICATED)
                self.assertNotIn(self.token, refused.exception.details())

        # A grandchild crashes: its crash report goes to the tree's stderr,
        # and the tree fails with it (the root exits).
        os.kill(self.pids[-1], signal.SIGSEGV)
        with contextlib.suppress(TimeoutError):
            self.root.wait_exit(TREE_TIMEOUT_S)
        self.root.kill()
        stdout, stderr = self.root.output()
        lines = stdout + stderr
        everything = "\n".join(lines)
        self.assertNotIn(self.token, everything, "a line holds the token")
        refusals = [line for line in lines
                    if "refused a call from ipv4:127.0.0.1:" in line]
        self.assertGreaterEqual(len(refusals), 3 * len(self.pids),
                                "\n".join(lines[-40:]))
        self.assertTrue(any("*** SIGSEGV" in line for line in lines),
                        "no crash report:\n" + "\n".join(lines[-40:]))


if __name__ == "__main__":
    node_harness.run_tests()
