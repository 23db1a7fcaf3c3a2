"""A real terminal for tests: one program in a detached tmux pane.

Each Terminal runs its own tmux server (a socket name of its own, -L, in a
private TMUX_TMPDIR) with one pane running the program. The test types
with send-keys and reads the screen, scrollback included, with
capture-pane. Waits poll the screen until a pattern appears or a deadline
passes; nothing sleeps to synchronize.

Cleanup kills and reaps every process the terminal started: the tmux
server, the program in the pane and all their descendants. The test
process makes itself a child subreaper first (become_subreaper), so the
daemonized tmux server and any orphaned actor stay its descendants and
/proc shows all of them. close() runs from the context manager, from an
atexit hook, and on SIGTERM (Bazel's timeout) through run_tests().

Usage:

    tmux_terminal.become_subreaper()
    with tmux_terminal.Terminal([binary, "--scenario=x"], "x") as term:
        term.wait_for(r"\\(tether \\S+\\) ", timeout=30)
        term.send_line("c")
        status = term.wait_exit(timeout=30)

Only one Terminal may be open at a time: close() kills every descendant of
the test process. Only the standard library is used.
"""

import atexit
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

# How often a wait looks at the screen or at /proc; the deadline bounds it.
POLL_INTERVAL_S = 0.05
# How long close() keeps killing before it gives up on a process.
CLOSE_TIMEOUT_S = 10.0
# How long a hang report may spend collecting stacks.
GDB_TIMEOUT_S = 60.0
# sockaddr_un.sun_path holds 108 bytes: keep the socket directory short.
_SOCKET_BASE = "/tmp"
_SESSION = "test"
_PR_SET_CHILD_SUBREAPER = 36

_open_terminals = set()


def become_subreaper():
    """Makes this process the reaper of its orphaned descendants."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"PR_SET_CHILD_SUBREAPER: {os.strerror(errno)}")


def _stat_fields(pid):
    """The fields of /proc/PID/stat from the state (field 3) on, or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8",
                  errors="replace") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may hold spaces.
    return text[text.rindex(")") + 2:].split()


def _stat(pid):
    """(ppid, state) of `pid`, or None once it has no /proc entry."""
    fields = _stat_fields(pid)
    return None if fields is None else (int(fields[1]), fields[0])


def zombie_exit_status(pid):
    """How `pid` ended, once it is a zombie: its exit code, or -N for
    signal N (field 52 of /proc/PID/stat); None otherwise."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] != "Z" or len(fields) < 50:
        return None
    status = int(fields[49])
    return -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


def descendants(ancestor=None):
    """Pids of every descendant of `ancestor` (default: this process)."""
    ancestor = ancestor or os.getpid()
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                parents[int(entry)] = stat[0]
    found = []
    frontier = [ancestor]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                found.append(pid)
                frontier.append(pid)
    return found


def running(pid):
    """Whether `pid` exists and has not exited (a zombie has exited)."""
    stat = _stat(pid)
    return stat is not None and stat[1] not in ("Z", "X")


def describe(pids):
    """"pid (state) cmdline" for each of `pids`, for failure messages."""
    lines = []
    for pid in pids:
        stat = _stat(pid)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(
                    "utf-8", "replace").strip()
        except OSError:
            command = "?"
        lines.append(f"{pid} ({stat[1] if stat else 'gone'}) {command}")
    return "\n".join(lines)


def thread_stacks(pid):
    """Every thread of `pid`: state, wait channel and stack, for a hang
    report (gdb in batch mode; /proc when gdb cannot attach)."""
    lines = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            task = f"/proc/{pid}/task/{tid}"
            stat = _stat(f"{pid}/task/{tid}")
            with open(f"{task}/wchan", encoding="utf-8") as wchan:
                waiting = wchan.read()
            with open(f"{task}/comm", encoding="utf-8") as comm:
                name = comm.read().strip()
            lines.append(f"  thread {tid} {name}: parent {stat[0]}, "
                         f"state {stat[1]}, wchan {waiting}")
    except OSError as err:
        lines.append(f"  /proc: {err}")
    try:
        result = subprocess.run(
            ["gdb", "-q", "-batch", "-p", str(pid), "-ex",
             "thread apply all bt"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            check=False, timeout=GDB_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        return "\n".join(lines + [f"(no stacks: {err})"])
    return "\n".join(lines + [result.stdout + result.stderr])


def reap_zombies():
    """Reaps every exited child of this process; returns their pids."""
    reaped = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


class Terminal:
    """One program in a detached tmux pane of its own tmux server.

    Methods are meant for the test's thread only.
    """

    def __init__(self, argv, name, width=200, height=50):
        self.argv = list(argv)
        self._dir = tempfile.mkdtemp(prefix="tty-", dir=_SOCKET_BASE)
        self._socket = f"tether-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        self._env["TMUX_TMPDIR"] = self._dir
        self._env.setdefault("TERM", "xterm")
        self._closed = False
        _open_terminals.add(self)
        config = os.path.join(self._dir, "tmux.conf")
        with open(config, "w", encoding="utf-8") as out:
            # The pane outlives the program, so its exit status and last
            # screen can be read.
            out.write("set -g remain-on-exit on\n")
            out.write("set -g history-limit 100000\n")
        self._tmux("-f", config, "new-session", "-d", "-s", _SESSION,
                   "-x", str(width), "-y", str(height), *self.argv)
        self.server_pid = int(self._tmux("display-message", "-p", "#{pid}"))
        self.pid = int(self._display("#{pane_pid}"))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def _tmux(self, *args):
        result = subprocess.run(
            ["tmux", "-L", self._socket, *args], env=self._env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            check=False, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(
                f"tmux {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip()}")
        return result.stdout.strip()

    def _display(self, fmt):
        return self._tmux("display-message", "-p", "-t", _SESSION, fmt)

    def screen(self):
        """The pane's whole text, scrollback first, wrapped lines joined."""
        text = self._tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-",
                          "-t", _SESSION)
        return "\n".join(line.rstrip() for line in text.split("\n"))

    def wait_until(self, predicate, timeout, what):
        """Polls predicate(screen) until it returns a true value; returns it.

        Raises AssertionError naming `what`, with the screen, at the
        deadline.
        """
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            result = predicate(screen)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no {what} within {timeout} s; the screen:\n{screen}")
            time.sleep(POLL_INTERVAL_S)

    def wait_for(self, pattern, timeout, count=1):
        """Waits until `pattern` matches `count` times; returns the matches."""
        regex = re.compile(pattern, re.M)

        def enough(screen):
            matches = list(regex.finditer(screen))
            return matches if len(matches) >= count else None

        return self.wait_until(enough, timeout,
                               f"{count} x /{regex.pattern}/")

    def send_line(self, text):
        """Types `text` and Enter."""
        self._tmux("send-keys", "-t", _SESSION, "-l", text)
        self._tmux("send-keys", "-t", _SESSION, "Enter")

    def send_keys(self, *keys):
        """Sends tmux key names, e.g. "C-c"."""
        self._tmux("send-keys", "-t", _SESSION, *keys)

    def exit_status(self):
        """The program's exit code, -N if signal N killed it, None if alive.

        tmux reports it once it has reaped the program. Until then the
        zombie's /proc entry tells: now and then (about one run in five
        of debug_terminal_test) tmux 3.3a had still not reaped its pane's
        program 30 s after it exited.
        """
        dead, status, signum = self._display(
            "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}").split("|")
        if dead == "1" and (status or signum):
            return -int(signum) if signum else int(status)
        return zombie_exit_status(self.pid)

    def wait_exit(self, timeout):
        """Waits for the program to end; returns exit_status()."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.exit_status()
            if status is not None:
                return status
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{' '.join(self.argv)} still runs after {timeout} s; "
                    f"the screen:\n{self.screen()}\n"
                    f"its threads (tmux server: {self.server_pid}):\n"
                    f"{thread_stacks(self.pid)}")
            time.sleep(POLL_INTERVAL_S)

    def wait_only_tmux_left(self, timeout):
        """Waits until no descendant but the tmux server is still running.

        Returns the pids still running at the deadline (empty when clean).
        Zombies have exited: their parent has yet to reap them.
        """
        deadline = time.monotonic() + timeout
        while True:
            reap_zombies()
            left = [pid for pid in descendants()
                    if pid != self.server_pid and running(pid)]
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(POLL_INTERVAL_S)

    def close(self):
        """Kills the tmux server and every descendant; reaps. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _open_terminals.discard(self)
        try:
            self._tmux("kill-server")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass  # Already gone, or hung: the kills below cover it.
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while True:
            left = descendants()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            reap_zombies()
            if not left or time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL_S)
        shutil.rmtree(self._dir, ignore_errors=True)
        if left:
            print(f"tmux_terminal: processes left:\n{describe(left)}",
                  file=sys.stderr)


def _close_all():
    for terminal in list(_open_terminals):
        terminal.close()


def run_tests():
    """Runs the calling module's unittest tests; exits non-zero on failure.

    SIGINT gets its default meaning back (`bazel test` starts tests with
    it ignored, and the program in the pane would inherit that), and
    SIGTERM becomes SystemExit, so every terminal is closed.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    unittest.main(module="__main__", verbosity=2)


atexit.register(_close_all)
