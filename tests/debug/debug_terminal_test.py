#!/usr/bin/python3
"""Debug mode at a real terminal, after tractor's tests/devx/test_debugger.py.

Each test runs tests/debug/debug_root (a root in debug mode, see its scenarios)
in a tmux pane: every actor of the tree shares that one terminal, as at a
developer's desk. The test reads the screen (capture-pane), types at the
prompt (send-keys), asks the root's tether.v1.Debug/Status who holds and
who waits for the TTY lock, and checks the exit status and that no process
of the tree outlives it.

Prompt lines it relies on (client/debug/debug_prompt.cc, client/debug/debugger.cc):
    -- tether debug: paused in actor NAME[UUID] pid PID, task 'TASK'
    -- tether debug: FUNCTION failed: <DescribeError>
    (tether NAME)
"""

import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "interop"))

import node_harness  # noqa: E402
import proto_stubs  # noqa: E402
import tmux_terminal  # noqa: E402

# Booting a tree of re-executed processes on a loaded 2-core machine,
# under ASan too; then each step (a prompt handed over, a tree torn down).
BOOT_TIMEOUT_S = 60.0
STEP_TIMEOUT_S = 30.0
# Everything of a finished tree is gone this soon after the root exits.
GONE_TIMEOUT_S = 10.0
RPC_TIMEOUT_S = 5.0

BANNER = re.compile(
    r"-- tether debug: (?P<why>paused|post-mortem) in actor "
    r"(?P<name>[\w.-]+)\[(?P<uuid>[0-9a-f-]+)\] pid (?P<pid>\d+), "
    r"task '(?P<task>[^']*)'")
PROMPT = re.compile(r"\(tether (?P<name>[\w.-]+)\)")
LISTENING = re.compile(r"tether: actor debug-root listening on (?P<address>\S+)")
# A line the root (not a child) logged; ROOT_LOG.format(text) matches it.
ROOT_LOG = r"debug-root\[[0-9a-f]{{8}}\] {}"
# The same for a line the actor named `middle` logged.
MIDDLE_LOG = r"middle\[[0-9a-f]{{8}}\] {}"
# gdb attaching to a process and reading its symbols; measured at about
# 2 s in the default build, but it reads every shared library of the
# process from disk on a loaded machine.
GDB_TIMEOUT_S = 60.0
# (The screen's lines come with trailing blanks removed.)
GDB_PROMPT = r"^\(gdb\)"
PAUSERS = {"pauser_a", "pauser_b"}


def ptrace_refusal():
    """Why gdb cannot attach to a process here, or None when it can.

    Reads Yama's ptrace_scope (3: no attaching at all), then really
    attaches gdb to a child of this process and detaches.
    """
    if shutil.which("gdb") is None:
        return "gdb is not installed (tools/setup.sh installs it)"
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="utf-8") as f:
            if f.read().strip() == "3":
                return "kernel.yama.ptrace_scope is 3: ptrace is disabled"
    except FileNotFoundError:
        pass  # no Yama: the classic same-user rules apply
    target = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE)
    try:
        probe = subprocess.run(
            ["gdb", "-q", "-batch", "-nx", "-p", str(target.pid),
             "-ex", "detach"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=GDB_TIMEOUT_S, check=False)
    finally:
        target.stdin.close()
        target.kill()
        target.wait()
    refused = re.search(r"ptrace: .*|Could not attach.*", probe.stdout +
                        probe.stderr)
    return f"gdb cannot attach here: {refused[0]}" if refused else None


def observed(screen, key):
    """The values of the root's `observed KEY=VALUE` lines, in order.

    A line may begin after a prompt that is still waiting for input.
    """
    return re.findall(rf"(?:^|\) )observed {re.escape(key)}=(.*)$", screen,
                      re.M)


class DebugTerminalTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        tmux_terminal.become_subreaper()
        proto_stubs.load()
        cls.debug = importlib.import_module("tether.v1.debug_pb2")
        cls.debug_grpc = importlib.import_module("tether.v1.debug_pb2_grpc")

    def start(self, scenario):
        """Runs debug_root --scenario=SCENARIO in a new terminal."""
        binary = node_harness.runfile("tests/debug/debug_root")
        term = tmux_terminal.Terminal(
            [binary, f"--scenario={scenario}", node_harness.token_flag()],
            scenario)
        self.addCleanup(term.close)
        self.term = term
        self.address = term.wait_for(LISTENING.pattern,
                                     BOOT_TIMEOUT_S)[0]["address"]
        return term

    def debug_status(self):
        with proto_stubs.channel(self.address,
                                 token=node_harness.tree_token()) as channel:
            stub = self.debug_grpc.DebugStub(channel)
            return stub.Status(self.debug.DebugStatusRequest(),
                               timeout=RPC_TIMEOUT_S)

    def wait_debug_status(self, predicate, what):
        """Polls Debug/Status until predicate(status); returns the status."""
        found = []

        def check(_):
            status = self.debug_status()
            found[:] = [status]
            return predicate(status)

        try:
            self.term.wait_until(check, STEP_TIMEOUT_S, what)
        except AssertionError as err:
            raise AssertionError(f"{err}\nlast Debug/Status: {found}") from None
        return found[0]

    def wait_banner(self, count=1):
        """Waits for the count-th prompt banner; returns its match."""
        return self.term.wait_for(BANNER.pattern, STEP_TIMEOUT_S, count)[-1]

    def assert_tree_finishes(self, expected_status):
        status = self.term.wait_exit(STEP_TIMEOUT_S)
        screen = self.term.screen()
        self.assertEqual(status, expected_status, screen)
        left = self.term.wait_only_tmux_left(GONE_TIMEOUT_S)
        self.assertEqual(left, [], tmux_terminal.describe(left))
        return screen

    def assert_alive(self, pid, who):
        self.assertTrue(tmux_terminal.running(pid),
                        f"{who} (pid {pid}) is gone:\n{self.term.screen()}")

    # --- One terminal, one prompt at a time ---

    def test_two_pausing_children_get_one_prompt_at_a_time(self):
        term = self.start("two_pausers")
        first = self.wait_banner()
        self.assertEqual(first["why"], "paused")
        self.assertIn(first["name"], PAUSERS)
        self.assertEqual(first["task"], "pause_for_the_test")
        # Both children asked for the terminal: one holds it, one waits.
        status = self.wait_debug_status(
            lambda s: s.HasField("holder") and len(s.waiters) == 1,
            "holder and one waiter")
        self.assertEqual(status.holder.requester.name, first["name"])
        self.assertEqual(status.holder.pid, int(first["pid"]))
        (other,) = PAUSERS - {first["name"]}
        self.assertEqual(status.waiters[0].requester.name, other)
        screen = term.screen()
        self.assertEqual(len(BANNER.findall(screen)), 1, screen)
        self.assertEqual(
            [m["name"] for m in PROMPT.finditer(screen)], [first["name"]])

        term.send_line("c")
        second = self.wait_banner(count=2)
        self.assertEqual(second["name"], other)
        self.assertNotEqual(second["pid"], first["pid"])
        # The first one went on and returned while the other has the prompt.
        term.wait_for(f'observed result="hello from {first["name"]}"',
                      STEP_TIMEOUT_S)
        screen = term.screen()
        self.assertEqual(len(BANNER.findall(screen)), 2, screen)
        self.assertEqual(
            [m["name"] for m in PROMPT.finditer(screen)],
            [first["name"], other])

        term.send_line("c")
        screen = self.assert_tree_finishes(0)
        self.assertCountEqual(observed(screen, "result"),
                              [f'"hello from {n}"' for n in PAUSERS])
        self.assertEqual(observed(screen, "nursery"), ["OK"])

    def test_bt_shows_the_paused_function(self):
        term = self.start("one_pauser")
        self.wait_banner()
        term.send_line("bt")
        term.wait_for(r"stack of task 'pause_for_the_test':", STEP_TIMEOUT_S)
        # Symbolized: the function the test registered, by name.
        term.wait_for(r"#\d+\s+0x[0-9a-f]+ .*PauseForTheTest\(\)",
                      STEP_TIMEOUT_S)
        term.send_line("c")
        self.assert_tree_finishes(0)

    def test_gdb_attaches_and_returns_to_the_prompt(self):
        refusal = ptrace_refusal()
        if refusal is not None:
            self.skipTest(refusal)
        term = self.start("one_pauser")
        banner = self.wait_banner()
        started = time.monotonic()
        term.send_line("gdb")
        term.wait_for(GDB_PROMPT, GDB_TIMEOUT_S)
        # gdb stopped the paused process: it still holds the terminal.
        status = self.wait_debug_status(
            lambda s: s.holder.requester.name == "pauser_a", "pauser_a holding")
        self.assertEqual(status.holder.pid, int(banner["pid"]))
        term.send_line("set pagination off")
        term.send_line("set confirm off")
        # gdb starts in the main thread; the paused task is another one.
        term.send_line("thread apply all bt")
        term.wait_for(r"^#\d+\s+0x[0-9a-f]+ in .*PauseForTheTest",
                      GDB_TIMEOUT_S)
        term.send_line("detach")
        term.send_line("quit")
        term.wait_for(r"^gdb exited; back at the tether prompt$",
                      STEP_TIMEOUT_S)
        term.wait_for(PROMPT.pattern, STEP_TIMEOUT_S, count=2)
        self.assert_alive(int(banner["pid"]), "pauser_a")
        print(f"gdb attached, answered and detached in "
              f"{time.monotonic() - started:.1f} s", file=sys.stderr)

        term.send_line("c")
        screen = self.assert_tree_finishes(0)
        self.assertEqual(observed(screen, "result"), ['"hello from pauser_a"'])

    def test_ctx_lists_the_open_context(self):
        term = self.start("one_pauser")
        self.wait_banner()
        term.send_line("ctx")
        # The paused call: its function, side, the root as the peer.
        term.wait_for(
            r"pause_for_the_test \(callee, \w+\) peer "
            r"debug-root\[[0-9a-f-]{36}\] sent 0 received 0 id [0-9a-f-]+",
            STEP_TIMEOUT_S)
        term.send_line("c")
        self.assert_tree_finishes(0)

    def test_q_cancels_the_actor(self):
        term = self.start("one_pauser")
        banner = self.wait_banner()
        term.send_line("q")
        screen = self.assert_tree_finishes(1)
        self.assertFalse(tmux_terminal.running(int(banner["pid"])))
        self.assertEqual(observed(screen, "result"), [], screen)
        errors = observed(screen, "error")
        self.assertEqual(len(errors), 1, screen)
        self.assertIn("quit at the debug prompt", errors[0])
        # Pause() returned CANCELLED, which the function passed on: the
        # root gets it boxed, from the child.
        self.assertEqual(observed(screen, "error_type"),
                         ["absl::StatusCode::kCancelled"])
        self.assertEqual(observed(screen, "error_source"), ["pauser_a"])
        self.assertEqual(observed(screen, "error_remote"), ["yes"])

    # --- Post-mortem ---

    def test_failing_child_shows_its_error_then_the_root_gets_it(self):
        term = self.start("child_fails")
        banner = self.wait_banner()
        self.assertEqual(banner["why"], "post-mortem")
        self.assertEqual(banner["name"], "failer")
        screen = term.screen()
        # The boxed exception: demangled type and what(), where it came from.
        self.assertRegex(
            screen,
            r"-- tether debug: throw_for_the_test failed: std::out_of_range: "
            r"the test's deliberate failure\n\s+source: failer\[")
        # The error waits at the prompt: the root has not received it.
        self.assertEqual(observed(screen, "error"), [], screen)
        self.assert_alive(int(banner["pid"]), "failer")

        term.send_line("c")
        screen = self.assert_tree_finishes(1)
        self.assertEqual(observed(screen, "error_kind"),
                         ["ERROR_KIND_APPLICATION"])
        self.assertEqual(observed(screen, "error_type"), ["std::out_of_range"])
        self.assertEqual(observed(screen, "error_source"), ["failer"])
        self.assertEqual(observed(screen, "error_remote"), ["yes"])
        self.assertIn("tether root: error: std::out_of_range: the test's "
                      "deliberate failure", screen)

    # --- The lock holder is lost ---

    def test_sigkilled_holder_hands_the_terminal_to_the_next_waiter(self):
        term = self.start("two_pausers")
        first = self.wait_banner()
        self.wait_debug_status(
            lambda s: s.HasField("holder") and len(s.waiters) == 1,
            "holder and one waiter")
        os.kill(int(first["pid"]), signal.SIGKILL)

        second = self.wait_banner(count=2)
        (other,) = PAUSERS - {first["name"]}
        self.assertEqual(second["name"], other)
        status = self.wait_debug_status(
            lambda s: s.holder.requester.name == other, f"{other} holding")
        self.assertEqual(len(status.waiters), 0)

        term.send_line("c")
        # The root does not hang: it ends with the killed child's failure,
        # its ActorFailure, not the TransportClosed of the call it broke.
        screen = self.assert_tree_finishes(1)
        errors = observed(screen, "error")
        self.assertEqual(len(errors), 1, screen)
        self.assertRegex(
            errors[0],
            rf"child {first['name']}\[{first['uuid'][:8]}\] died: signal 9")
        self.assertNotIn("TransportClosed", errors[0])
        self.assertNotIn(other, errors[0])

    # --- Ctrl-C ---

    def test_ctrl_c_at_the_prompt_does_not_stop_the_tree(self):
        term = self.start("one_pauser")
        banner = self.wait_banner()
        # Ctrl-C must be able to reach the root: SIGINT is not ignored.
        with open(f"/proc/{term.pid}/status", encoding="utf-8") as status:
            ignored = int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status.read(),
                                    re.M)[1], 16)
        self.assertFalse(ignored & (1 << (signal.SIGINT - 1)))

        term.send_keys("C-c")
        term.wait_for(ROOT_LOG.format(
            "ignoring SIGINT: the debug prompt has the terminal"),
            STEP_TIMEOUT_S)
        self.assertIsNone(term.exit_status())
        self.assert_alive(term.pid, "the root")
        self.assert_alive(int(banner["pid"]), banner["name"])

        term.send_line("c")
        screen = self.assert_tree_finishes(0)
        self.assertEqual(observed(screen, "result"), ['"hello from pauser_a"'])
        self.assertNotIn("interrupted", screen)

    # --- Teardown waits for the prompt ---

    def test_root_failure_cancels_a_prompted_child_only_after_c(self):
        term = self.start("root_fails_at_prompt")
        banner = self.wait_banner()
        self.assertEqual(banner["name"], "pauser_a")
        term.wait_for(r"observed root_failing_while_prompted=pauser_a$",
                      STEP_TIMEOUT_S)
        waiting = ROOT_LOG.format(
            r"waiting for the debug prompt to finish before cancelling child "
            r"pauser_a\[")
        term.wait_for(waiting, STEP_TIMEOUT_S)
        # The root failed, yet its child is still at the prompt: alive and
        # answering.
        self.assert_alive(int(banner["pid"]), "pauser_a")
        self.assertIsNone(term.exit_status())
        term.send_line("ctx")
        term.wait_for(r"pause_for_the_test \(callee", STEP_TIMEOUT_S)
        cancelling = ROOT_LOG.format(r"cancelling child pauser_a\[")
        self.assertIsNone(re.search(cancelling, term.screen()))

        term.send_line("c")
        screen = self.assert_tree_finishes(1)
        released = re.search(
            ROOT_LOG.format(r"debug lock released by pauser_a\["), screen)
        cancelled = re.search(cancelling, screen)
        self.assertIsNotNone(released, screen)
        self.assertIsNotNone(cancelled, screen)
        self.assertLess(released.start(), cancelled.start())
        self.assertIn("the root's block failed on purpose",
                      observed(screen, "error")[0])

    def test_middle_failure_cancels_a_prompted_grandchild_only_after_c(self):
        # The nursery that must wait is not the root's: it runs in `middle`,
        # a child of the root, and asks the root who is at the prompt.
        term = self.start("middle_fails_at_grandchild_prompt")
        banner = self.wait_banner()
        self.assertEqual(banner["name"], "grandchild")
        grandchild = int(banner["pid"])
        term.wait_for(r"observed middle_failing_while_prompted=grandchild$",
                      STEP_TIMEOUT_S)
        waiting = MIDDLE_LOG.format(
            r"waiting for the debug prompt to finish before cancelling child "
            r"grandchild\[")
        term.wait_for(waiting, STEP_TIMEOUT_S)
        # The middle failed, yet its child is still at the prompt: alive
        # and answering, neither cancelled nor signalled.
        self.assert_alive(grandchild, "grandchild")
        self.assertIsNone(term.exit_status())
        term.send_line("ctx")
        term.wait_for(r"pause_for_the_test \(callee", STEP_TIMEOUT_S)
        screen = term.screen()
        cancelling = MIDDLE_LOG.format(r"cancelling child grandchild\[")
        self.assertIsNone(re.search(cancelling, screen), screen)
        self.assertNotIn("sending SIGTERM", screen)
        self.assertEqual(
            self.debug_status().holder.requester.name, "grandchild")

        term.send_line("c")
        # The middle's failing function has its post-mortem prompt in turn.
        post_mortem = self.wait_banner(count=2)
        self.assertEqual(post_mortem["why"], "post-mortem")
        self.assertEqual(post_mortem["name"], "middle")
        term.send_line("c")
        screen = self.assert_tree_finishes(1)
        released = re.search(
            ROOT_LOG.format(r"debug lock released by grandchild\["), screen)
        cancelled = re.search(cancelling, screen)
        self.assertIsNotNone(released, screen)
        self.assertIsNotNone(cancelled, screen)
        self.assertLess(released.start(), cancelled.start())
        self.assertNotIn("sending SIGTERM", screen)
        self.assertFalse(tmux_terminal.running(grandchild))
        errors = observed(screen, "error")
        self.assertEqual(len(errors), 1, screen)
        self.assertIn("the middle's block failed on purpose", errors[0])
        self.assertEqual(observed(screen, "error_source"), ["middle"])


if __name__ == "__main__":
    tmux_terminal.run_tests()
