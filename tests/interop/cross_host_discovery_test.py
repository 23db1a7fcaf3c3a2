#!/usr/bin/python3
"""Discovery across hosts: two network namespaces joined by a veth pair.

Each namespace stands for a host with its own network stack. Namespace A
runs the registry, listening on A's veth address; namespace B runs
`actor_node --name=worker --registry=<registry>` listening on B's veth
address, so its registration crosses the link. Then, from namespace A,
tests/discovery/discovery_probe looks `worker` up by name and streams from its
`counter` function: lookup, probe and stream all cross the link to B.

Must run as root (creating namespaces needs CAP_SYS_ADMIN and
CAP_NET_ADMIN; this machine and CI run tests as root). Where `ip netns`
is not permitted the test fails and says so; it never passes without
having crossed namespaces.

Namespace names are unique per run (pid and a random suffix), and the
veth ends are created inside the namespaces, so parallel runs never
clash: the same small /30 exists once per pair of namespaces. Every
namespace, link and process is removed at the end, whatever happens
(context managers, and an atexit hook reached on SIGTERM too).

The registry is a parameter, so another backend (etcd) can be tried by
starting it in namespace A and pointing everything at it:

    cross_host_discovery_test.py \\
        --registry-command='etcd --listen-client-urls=http://{a}:2379 ...' \\
        --registry='etcd://{a}:2379'

{a} stands for namespace A's address and {tmp} for a scratch directory
removed at the end (e.g. etcd's data directory). By default the registry is an
actor_node hosting the embedded registrar, at the address it prints.
"""

import argparse
import atexit
import contextlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402

# The link between the two "hosts": a /30 that exists only inside the
# namespaces of one run.
ADDRESS_A = "10.231.7.1"
ADDRESS_B = "10.231.7.2"
PREFIX = 30
VETH_A = "veth-a"
VETH_B = "veth-b"

IP_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 20.0
TEST_LIMIT_S = 90
COUNT = 5

# Set from the command line before the tests run.
REGISTRY_COMMAND = None
REGISTRY_ADDRESS = None

_namespaces = []


def _ip(*args):
    """Runs `ip ARGS`; returns CompletedProcess (never raises on failure)."""
    return subprocess.run(["ip", *args], capture_output=True, text=True,
                          timeout=IP_TIMEOUT_S, check=False)


def _ip_or_fail(*args):
    result = _ip(*args)
    if result.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: exit {result.returncode}:"
                             f" {result.stderr.strip()}")


def _delete_namespaces():
    """Deletes every namespace this process created; their links go too."""
    while _namespaces:
        _ip("netns", "del", _namespaces.pop())


atexit.register(_delete_namespaces)


@contextlib.contextmanager
def namespace_pair():
    """Yields (a, b): two new namespaces joined by a veth pair, up.

    Fails with a clear message when namespaces cannot be created here.
    Removes both (and so the link) on the way out.
    """
    if shutil.which("ip") is None:
        raise AssertionError("this test needs iproute2's `ip` (Debian: "
                             "iproute2); it is not installed")
    if os.geteuid() != 0:
        raise AssertionError(
            f"this test must run as root to create network namespaces "
            f"(euid {os.geteuid()}); it does not skip")
    run = f"tether-{os.getpid()}-{secrets.token_hex(3)}"
    a, b = f"{run}-a", f"{run}-b"
    try:
        for name in (a, b):
            result = _ip("netns", "add", name)
            if result.returncode != 0:
                raise AssertionError(
                    f"cannot create network namespace {name}: "
                    f"{result.stderr.strip()} -- this test needs root with "
                    f"CAP_SYS_ADMIN and CAP_NET_ADMIN; it does not skip")
            _namespaces.append(name)
        _ip_or_fail("link", "add", VETH_A, "netns", a, "type", "veth",
                    "peer", "name", VETH_B, "netns", b)
        for name, veth, address in ((a, VETH_A, ADDRESS_A),
                                    (b, VETH_B, ADDRESS_B)):
            _ip_or_fail("-n", name, "addr", "add", f"{address}/{PREFIX}",
                        "dev", veth)
            _ip_or_fail("-n", name, "link", "set", veth, "up")
            _ip_or_fail("-n", name, "link", "set", "lo", "up")
        yield a, b
    finally:
        for name in (a, b):
            if name in _namespaces:
                _ip("netns", "del", name)
                _namespaces.remove(name)
        listed = _ip("netns", "list").stdout
        for name in (a, b):
            if name in listed.split():
                raise AssertionError(f"namespace {name} is still there")


def in_namespace(namespace, command):
    """`command` (a list) run inside `namespace`."""
    return ["ip", "netns", "exec", namespace, *command]


def wait_accepting(namespace, address, timeout=PROBE_TIMEOUT_S):
    """Waits until `address` (host:port after any scheme://) accepts TCP
    connections from inside `namespace`; for registries that print no
    listening line."""
    host, _, port = address.split("://")[-1].rpartition(":")
    check = ("import socket, sys, time\n"
             "deadline = time.monotonic() + float(sys.argv[3])\n"
             "while True:\n"
             "    try:\n"
             "        socket.create_connection((sys.argv[1], int(sys.argv[2])),"
             " 1).close()\n"
             "        break\n"
             "    except OSError:\n"
             "        if time.monotonic() > deadline: sys.exit(1)\n"
             "        time.sleep(0.05)\n")
    result = subprocess.run(
        in_namespace(namespace, [sys.executable, "-c", check, host, port,
                                 str(timeout)]),
        capture_output=True, text=True, timeout=timeout + 10, check=False)
    if result.returncode != 0:
        raise AssertionError(f"the registry at {address} did not accept "
                             f"connections within {timeout} s")


def probe_binary():
    if os.environ.get("TEST_SRCDIR"):
        return node_harness.runfile("tests/discovery/discovery_probe")
    return node_harness.runfile("bazel-bin/tests/discovery/discovery_probe")


class CrossHostDiscoveryTest(unittest.TestCase):

    def test_opens_a_context_by_name_across_namespaces(self):
        self.enterContext(node_harness.hang_guard(TEST_LIMIT_S, self.id()))
        a, b = self.enterContext(namespace_pair())
        node = node_harness.actor_node_binary()

        # The registry, in A, on A's side of the link.
        if REGISTRY_COMMAND:
            scratch = self.enterContext(tempfile.TemporaryDirectory())
            self.enterContext(node_harness.NodeProcess(
                ["netns", "exec", a,
                 *shlex.split(REGISTRY_COMMAND.format(a=ADDRESS_A,
                                                      tmp=scratch))],
                binary="ip"))
            registry = REGISTRY_ADDRESS.format(a=ADDRESS_A)
            wait_accepting(a, registry)
        else:
            registry_node = self.enterContext(node_harness.NodeProcess(
                ["netns", "exec", a, node, "--name=registry",
                 f"--listen={ADDRESS_A}:0", node_harness.token_flag()],
                binary="ip"))
            registry = registry_node.wait_listening()
            self.assertTrue(registry.startswith(f"{ADDRESS_A}:"), registry)

        # The worker, in B, registering across the link. Its listening
        # line comes once the registry confirmed the registration.
        worker = self.enterContext(node_harness.NodeProcess(
            ["netns", "exec", b, node, "--name=worker",
             f"--listen={ADDRESS_B}:0", f"--registry={registry}",
             node_harness.token_flag()],
            binary="ip"))
        worker_address = worker.wait_listening()
        self.assertTrue(worker_address.startswith(f"{ADDRESS_B}:"),
                        worker_address)

        # B's address is not one of A's own: the probe's calls to the
        # worker can only cross the link.
        own = _ip("-n", a, "-o", "addr", "show").stdout
        self.assertNotIn(f" {ADDRESS_B}/", own)

        # From A, by name: lookup, then a streaming context with B.
        probe = subprocess.run(
            in_namespace(a, [probe_binary(), f"--registry={registry}",
                             node_harness.token_flag(),
                             "--name=worker", "--function=counter",
                             "--args=" + json.dumps({"n": COUNT}),
                             f"--timeout={int(PROBE_TIMEOUT_S)}s"]),
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S + 10,
            check=False)
        context = (f"probe exit {probe.returncode}; stdout {probe.stdout!r}; "
                   f"stderr {probe.stderr!r}; worker stderr "
                   f"{worker.stderr_lines()!r}")
        self.assertEqual(probe.returncode, 0, context)
        self.assertEqual(
            probe.stdout.splitlines(),
            [f"found worker at {worker_address}", "started 0",
             *[f"value {i}" for i in range(1, COUNT + 1)],
             f"result {COUNT}"], context)


def main():
    global REGISTRY_COMMAND, REGISTRY_ADDRESS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--registry-command",
        help="command that serves the registry in namespace A ({a}: A's "
             "address, {tmp}: a scratch directory); default: an actor_node "
             "hosting the registrar")
    parser.add_argument(
        "--registry",
        help="the address of that registry, for the worker and the probe "
             "({a}: A's address)")
    args, rest = parser.parse_known_args()
    if bool(args.registry_command) != bool(args.registry):
        parser.error("--registry-command and --registry go together")
    REGISTRY_COMMAND = args.registry_command
    REGISTRY_ADDRESS = args.registry
    sys.argv = [sys.argv[0], *rest]
    node_harness.run_tests()


if __name__ == "__main__":
    main()
