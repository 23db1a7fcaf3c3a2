"""Multi-process test harness for the `actor_node` binary.

Starts actor_node subprocesses, each in its own session and process group,
waits for the node's listening line with a deadline, and guarantees that
every process it started is killed and reaped: by the context manager on
the normal path, and by an atexit hook (reached on SIGTERM too, see
run_tests) when a test dies some other way.

Nothing here sleeps to synchronize: output is drained by reader threads
that signal a condition variable, and process exit is awaited on a pidfd.

Usage:

    args = ["--name=alpha", "--listen=127.0.0.1:0"]
    with node_harness.NodeProcess(args) as node:
        address = node.wait_listening()
        ...  # talk to `address`
    # The node and its whole process group are gone here.

Only the Python standard library is used, so the harness also works for
tests that never import grpc.
"""

import atexit
import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

WORKSPACE = "tether"

# Deadlines, generous enough for a loaded CI machine. They bound waits; a
# healthy node meets them by orders of magnitude.
START_TIMEOUT_S = 10.0
EXIT_TIMEOUT_S = 5.0

# The one machine-readable line a serving node prints on stdout.
LISTENING_LINE = re.compile(
    r"^tether: actor (?P<name>\S+) listening on (?P<address>\S+)$")

# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
_MAX_UNIX_PATH = 107

# Environment variables that make gRPC log extra lines; the node's contract
# is about its default output, so children never inherit them.
_NOISY_ENV = ("GRPC_VERBOSITY", "GRPC_TRACE")

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_live_nodes = set()
_live_nodes_lock = threading.Lock()


def runfile(relative_path):
    """Returns the absolute path of a workspace file in the runfiles.

    Under `bazel test` the file is looked up in $TEST_SRCDIR/$TEST_WORKSPACE;
    run by hand, it falls back to the source tree. Raises FileNotFoundError
    naming the path when the file is missing.
    """
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        workspace = os.environ.get("TEST_WORKSPACE", WORKSPACE)
        path = os.path.join(srcdir, workspace, relative_path)
    else:
        path = os.path.join(_REPO_ROOT, relative_path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"runfile not found: {path}")
    return path


def actor_node_binary():
    """Path of the actor_node binary (runfiles, or bazel-bin by hand)."""
    if os.environ.get("TEST_SRCDIR"):
        return runfile("app/actor_node")
    return runfile("bazel-bin/app/actor_node")


_tree_token = None
_tree_token_lock = threading.Lock()


def _token_file_and_token():
    """Makes this test process's tree token and its private file once."""
    global _tree_token
    with _tree_token_lock:
        if _tree_token is None:
            token = os.urandom(32).hex()
            directory = tempfile.mkdtemp(prefix="tether-token-",
                                         dir=os.environ.get("TEST_TMPDIR"))
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            path = os.path.join(directory, "tree.token")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(token + "\n")
            _tree_token = (path, token)
        return _tree_token


def token_flag():
    """`--token_file=PATH` for a node of this test process's tree: every
    node started with it shares one token (tree_token())."""
    return f"--token_file={_token_file_and_token()[0]}"


def tree_token_file():
    """The private file (mode 0600) that token_flag() names."""
    return _token_file_and_token()[0]


def tree_token():
    """The token of the nodes started with token_flag(), 64 hex digits."""
    return _token_file_and_token()[1]


def child_env(overrides=None):
    """The environment for a child: ours without the noisy gRPC variables,
    with `overrides` applied (a value of None removes the variable)."""
    env = {k: v for k, v in os.environ.items() if k not in _NOISY_ENV}
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class _LineCollector:
    """Drains one pipe of a child on a daemon thread.

    The child can never block on a full pipe. Lines (without the trailing
    newline) accumulate in order; waiters block on a condition variable
    with a deadline. Thread-safe.
    """

    def __init__(self, pipe, label):
        self._pipe = pipe
        self._cond = threading.Condition()
        self._lines = []  # guarded by _cond
        self._eof = False  # guarded by _cond
        self._thread = threading.Thread(
            target=self._drain, name=f"drain-{label}", daemon=True)
        self._thread.start()

    def _drain(self):
        for raw in iter(self._pipe.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        self._pipe.close()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, predicate, deadline):
        """Waits until predicate(lines, eof) holds or the deadline passes.

        Returns whether it held. `deadline` is a time.monotonic() value.
        """
        with self._cond:
            return self._cond.wait_for(
                lambda: predicate(self._lines, self._eof),
                timeout=max(0.0, deadline - time.monotonic()))

    def wait_eof(self, deadline):
        """Waits for end of file; returns all lines. Raises TimeoutError."""
        if not self.wait_for(lambda lines, eof: eof, deadline):
            raise TimeoutError("pipe still open at the deadline")
        return self.lines()

    def lines(self):
        """The lines read so far."""
        with self._cond:
            return list(self._lines)


class NodeProcess:
    """One actor_node subprocess in its own session and process group.

    Use as a context manager: leaving the block kills the whole process
    group and reaps the node, whatever the test did. Methods are meant to
    be called from the test's thread only.
    """

    def __init__(self, args, binary=None, env=None, stdin=False):
        """Starts `binary` (actor_node by default) with `args`.

        `env` overrides variables of the inherited environment (a value of
        None removes the variable). With `stdin` the process reads a pipe
        the test writes with write_stdin() and closes with close_stdin();
        without, it reads /dev/null.
        """
        self.argv = [binary or actor_node_binary()] + list(args)
        self._pidfd = None
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_env(env), start_new_session=True)
        with _live_nodes_lock:
            _live_nodes.add(self)
        self._pidfd = os.pidfd_open(self._proc.pid)
        self._stdout = _LineCollector(self._proc.stdout, "stdout")
        self._stderr = _LineCollector(self._proc.stderr, "stderr")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.kill()
        return False

    @property
    def pid(self):
        return self._proc.pid

    @property
    def returncode(self):
        """Exit code once reaped; -N if killed by signal N; None before."""
        return self._proc.returncode

    def command(self):
        """The command line, for failure messages."""
        return " ".join(self.argv)

    def wait_listening(self, timeout=START_TIMEOUT_S):
        """Waits for the listening line and returns its address.

        Raises AssertionError (with the node's stderr) if the node exits or
        the deadline passes first, or the first stdout line is not the
        listening line.
        """
        deadline = time.monotonic() + timeout
        got_line = self._stdout.wait_for(
            lambda lines, eof: lines or eof, deadline)
        lines = self._stdout.lines()
        if not lines:
            state = "closed stdout" if got_line else "printed nothing"
            raise AssertionError(
                f"{self.command()}: {state} within {timeout} s; "
                f"stderr: {self._stderr.lines()!r}")
        match = LISTENING_LINE.match(lines[0])
        if not match:
            raise AssertionError(
                f"{self.command()}: first stdout line is not the listening "
                f"line: {lines[0]!r}")
        return match.group("address")

    def wait_for_stdout(self, pattern, timeout=START_TIMEOUT_S):
        """Waits for a stdout line matching the regex `pattern`.

        Returns the first matching line's re.Match. Raises AssertionError
        (with the output so far) if stdout closes or the deadline passes
        first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        self._stdout.wait_for(
            lambda lines, eof: eof or any(map(regex.search, lines)),
            deadline)
        for line in self._stdout.lines():
            match = regex.search(line)
            if match:
                return match
        raise AssertionError(
            f"{self.command()}: no stdout line matches {pattern!r} within "
            f"{timeout} s; stdout {self._stdout.lines()!r}, stderr "
            f"{self._stderr.lines()!r}")

    def write_stdin(self, text):
        """Writes `text` to the process's stdin pipe and flushes it."""
        self._proc.stdin.write(text.encode("utf-8"))
        self._proc.stdin.flush()

    def close_stdin(self):
        """Closes the stdin pipe (end of input). Idempotent."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()

    def wait_exit(self, timeout=EXIT_TIMEOUT_S):
        """Waits for the node to exit, then reaps it; returns its returncode.

        Raises TimeoutError if it is still running at the deadline (the node
        is left running; the context manager kills it).
        """
        if self._proc.returncode is not None:
            return self._proc.returncode
        ready, _, _ = select.select([self._pidfd], [], [], timeout)
        if not ready:
            raise TimeoutError(
                f"{self.command()}: still running after {timeout} s")
        self._reap()
        return self._proc.returncode

    def output(self, timeout=EXIT_TIMEOUT_S):
        """After exit: (stdout lines, stderr lines), read to end of file.

        The pipes close once every process holding them is gone, so this
        also bounds how long a stray child could keep them open.
        """
        deadline = time.monotonic() + timeout
        return self._stdout.wait_eof(deadline), self._stderr.wait_eof(deadline)

    def stderr_lines(self):
        """Stderr lines read so far."""
        return self._stderr.lines()

    def kill(self):
        """SIGKILLs the process group and reaps the node. Idempotent."""
        self.close_stdin()
        if self._proc.returncode is None:
            self._reap()
        with _live_nodes_lock:
            _live_nodes.discard(self)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _reap(self):
        # The group is killed before the leader is reaped: until then the
        # leader's pid (the pgid) cannot be reused, so the kill can only hit
        # processes this node started. An exited leader is a zombie and is
        # unaffected.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()


def run_to_exit(args, timeout=EXIT_TIMEOUT_S):
    """Runs actor_node with `args` to completion.

    Returns (returncode, stdout lines, stderr lines). A node still running
    at the deadline is killed and reported as an AssertionError (a hang).
    """
    with NodeProcess(args) as node:
        try:
            returncode = node.wait_exit(timeout)
        except TimeoutError as err:
            raise AssertionError(f"hang: {err}") from None
        stdout, stderr = node.output()
        return returncode, stdout, stderr


@contextlib.contextmanager
def occupied_port(host="127.0.0.1"):
    """Yields a TCP port on `host` that is bound and listening meanwhile.

    The socket is not SO_REUSEPORT, so no other socket (gRPC's included)
    can bind the same port while the block runs.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@contextlib.contextmanager
def refusing_port(host="127.0.0.1"):
    """Yields a TCP port on `host` that is bound but never listens.

    Every connection to it is refused at once, and no other socket can
    bind it while the block runs: an address where nothing answers.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield sock.getsockname()[1]


@contextlib.contextmanager
def hang_guard(seconds, what):
    """Fails the block with AssertionError if it still runs after `seconds`.

    A backstop for multi-process tests whose every wait has a shorter
    deadline of its own: SIGALRM raises in the main thread, interrupting
    whatever it waits on, and the context managers on the way out kill
    the processes the test started. Main thread only; not nestable.
    """
    def expired(signum, frame):
        raise AssertionError(f"hang guard: {what} still ran after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def socket_dir():
    """Yields a fresh directory for unix sockets; removes it afterwards.

    Bazel's $TEST_TMPDIR is preferred but can exceed the sun_path limit;
    then a directory under /tmp is used.
    """
    base = os.environ.get("TEST_TMPDIR")
    if not base or len(base) + 40 > _MAX_UNIX_PATH:
        base = "/tmp"
    path = tempfile.mkdtemp(prefix="tether-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _kill_live_nodes():
    with _live_nodes_lock:
        nodes = list(_live_nodes)
    for node in nodes:
        node.kill()


def run_tests():
    """Runs the calling module's unittest tests; exits non-zero on failure.

    Prepares the process so children behave as if started from a shell:
    `bazel test` runs tests as background jobs, which inherit SIGINT
    ignored, and an ignored disposition survives exec into the node. A
    SIGTERM (Bazel's timeout) becomes SystemExit so context managers and
    the atexit hook still kill every node this process started.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    unittest.main(module="__main__", verbosity=2)


atexit.register(_kill_live_nodes)
