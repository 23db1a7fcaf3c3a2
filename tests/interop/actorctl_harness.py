"""Running actorctl (actorctl/actorctl.cc) against live actor processes.

A Cluster is a set of actor processes sharing one private environment: its
own XDG_RUNTIME_DIR, so the local-roots records (runtime/process/local_roots.h) of
tests Bazel runs in parallel never meet, and no TETHER_REGISTRY. actorctl
runs in the same environment, to completion, with a deadline.

    with actorctl_harness.Cluster() as cluster:
        _, registry = cluster.start("registry")       # a root: registrar
        cluster.start("worker", registry=registry)    # joins it
        result = cluster.ctl(f"--registry={registry}", "--json", "ls")
        entries = result.json()["entries"]
    # Every process the cluster started is gone here.

Standard library only, like node_harness.
"""

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time

import node_harness

# The longest one actorctl run may take before it counts as a hang. Its own
# lookups and calls end within --timeout (5 s by default).
CTL_TIMEOUT_S = 30.0
# Bound of polls for a state the tree reaches on its own (an exit seen by
# the registry, a context closed on the callee).
SETTLE_TIMEOUT_S = 10.0

LS_HEADER = "NAME\tUUID\tPID\tADDRESSES"


def actorctl_binary():
    if os.environ.get("TEST_SRCDIR"):
        return node_harness.runfile("actorctl/actorctl")
    return node_harness.runfile("bazel-bin/actorctl/actorctl")


class CtlResult:
    """One finished actorctl run."""

    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout.splitlines()
        self.stderr = stderr.splitlines()

    def __str__(self):
        return (f"actorctl {' '.join(self.argv)}: exit {self.returncode}, "
                f"stdout {self.stdout!r}, stderr {self.stderr!r}")

    def json(self):
        """stdout as one JSON document on one line."""
        if len(self.stdout) != 1:
            raise AssertionError(f"want one JSON line; {self}")
        return json.loads(self.stdout[0])


def run_actorctl(args, env, stdin_text=""):
    """Runs actorctl to completion; a run past CTL_TIMEOUT_S is a hang.

    subprocess.run SIGKILLs and reaps actorctl when the timeout passes, so
    nothing outlives a hang.
    """
    argv = [actorctl_binary()] + list(args)
    try:
        done = subprocess.run(
            argv, input=stdin_text.encode("utf-8"), capture_output=True,
            env=node_harness.child_env(env), timeout=CTL_TIMEOUT_S,
            start_new_session=True)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"hang: actorctl {' '.join(args)} ran past {CTL_TIMEOUT_S} s"
        ) from None
    return CtlResult(list(args), done.returncode,
                     done.stdout.decode("utf-8", "replace"),
                     done.stderr.decode("utf-8", "replace"))


@contextlib.contextmanager
def private_runtime_dir():
    """A fresh directory to serve as XDG_RUNTIME_DIR; removed afterwards."""
    with tempfile.TemporaryDirectory(
            prefix="actorctl-", dir=os.environ.get("TEST_TMPDIR")) as path:
        yield path


@contextlib.contextmanager
def refused_port(host="127.0.0.1"):
    """Yields a port that is bound but never listens: connections to it are
    refused at once, and nothing else can take it while the block runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield sock.getsockname()[1]


class Cluster:
    """Actor processes sharing one private environment.

    `env` is the environment overrides every process of the cluster gets:
    its own XDG_RUNTIME_DIR, no TETHER_REGISTRY. Use as a context manager;
    leaving it kills every process started through it.
    """

    def __init__(self):
        self._stack = contextlib.ExitStack()
        self.runtime_dir = self._stack.enter_context(private_runtime_dir())
        self.env = {"XDG_RUNTIME_DIR": self.runtime_dir,
                    "TETHER_REGISTRY": None}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return self._stack.__exit__(*exc_info)

    def start(self, name, registry=None):
        """Starts an actor_node; returns (node, address).

        Without `registry` the node is a root: it hosts the registrar and
        records itself for local tools.
        """
        args = [f"--name={name}", "--listen=127.0.0.1:0"]
        if registry is not None:
            args.append(f"--registry={registry}")
        return self.start_program(node_harness.actor_node_binary(), args)

    def start_program(self, binary, args):
        """Starts another actor program; returns (process, address)."""
        node = self._stack.enter_context(node_harness.NodeProcess(
            args, binary=binary, env=self.env))
        return node, node.wait_listening()

    def enter(self, context_manager):
        """Ties another context manager to the cluster's lifetime."""
        return self._stack.enter_context(context_manager)

    def ctl(self, *args, stdin_text="", env=None):
        """Runs actorctl in the cluster's environment (plus `env`)."""
        return run_actorctl(args, dict(self.env, **(env or {})), stdin_text)


def ls_rows(test, result):
    """The rows of `actorctl ls` text output as dicts; checks the header."""
    test.assertEqual(result.returncode, 0, result)
    test.assertGreaterEqual(len(result.stdout), 1, result)
    test.assertEqual(result.stdout[0], LS_HEADER, result)
    rows = []
    for line in result.stdout[1:]:
        fields = line.split("\t")
        test.assertEqual(len(fields), 4, f"row {line!r}; {result}")
        rows.append({"name": fields[0], "uuid": fields[1],
                     "pid": int(fields[2]),
                     "addresses": fields[3].split(",")})
    return rows


def json_entries(test, result):
    """The entries of `actorctl --json ls` (ListResponse), in its order."""
    test.assertEqual(result.returncode, 0, result)
    return result.json().get("entries", [])


def names_listed(cluster, registry):
    """Names `ls --json` lists in `registry` (asserting success)."""
    result = cluster.ctl("--json", f"--registry={registry}", "ls")
    if result.returncode != 0:
        raise AssertionError(f"ls failed: {result}")
    return [e["actor"]["id"]["name"] for e in result.json().get("entries", [])]


def poll(condition, timeout, what):
    """Calls condition() until it returns a true value; returns it.

    Raises AssertionError naming `what` (and the last value) at the
    deadline. Each call is a full actorctl or /proc round trip, which
    paces the loop.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s "
                                 f"(last: {value!r})")
