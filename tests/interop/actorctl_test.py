#!/usr/bin/python3
"""actorctl's commands against live actor trees: ls, info, call and stream
in text and --json (parsed) against a registry and nodes that joined it,
remote errors, interactive streams and SIGINT, cancel, and `tree` on a root
program's supervision tree (tests/trees/tree_root). Exit codes: 0 success, 1
remote error, 2 usage or connection error.

Every process a test starts is killed on the way out, whatever happened
(tests/interop/actorctl_harness.py); each wait has a deadline and nothing
sleeps to synchronize. Registries actorctl cannot use, and how it picks one
by default, are in actorctl_registry_test.py.
"""

import contextlib
import ctypes
import json
import os
import re
import signal
import sys
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402
from actorctl_harness import (  # noqa: E402
    Cluster, SETTLE_TIMEOUT_S, actorctl_binary, json_entries, ls_rows,
    names_listed, poll)

# A tree of five actors boots in well under a second; ASan and a loaded
# 2-core machine make it several.
TREE_TIMEOUT_S = 60.0
# How long what is left of a SIGKILLed tree may take to disappear.
TREE_EXIT_TIMEOUT_S = 15.0

INTEROP_FUNCTIONS = ["call_peer", "counter", "echo", "echo_stream", "fail",
                     "sleep_forever"]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

_PR_SET_CHILD_SUBREAPER = 36


def tree_root_binary():
    if os.environ.get("TEST_SRCDIR"):
        return node_harness.runfile("tests/trees/tree_root")
    return node_harness.runfile("bazel-bin/tests/trees/tree_root")


class ReadCommandsTest(unittest.TestCase):
    """ls, info, call and stream in text and --json against a registry and
    two nodes that joined it, and the errors they report."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = cls.enterClassContext(Cluster())
        cls.registry_node, cls.registry = cls.cluster.start("registry")
        cls.worker, cls.worker_address = cls.cluster.start(
            "worker", registry=cls.registry)
        cls.peer, cls.peer_address = cls.cluster.start(
            "peer", registry=cls.registry)

    def ctl(self, *args, **kwargs):
        return self.cluster.ctl(f"--registry={self.registry}", *args,
                                **kwargs)

    def uuid_of(self, name):
        entries = json_entries(self, self.ctl("--json", "ls"))
        for entry in entries:
            if entry["actor"]["id"]["name"] == name:
                return entry["actor"]["id"]["uuid"]
        raise AssertionError(f"{name} is not registered: {entries!r}")

    # --- ls ---

    def test_ls_text_lists_every_node_by_name(self):
        result = self.ctl("ls")
        rows = ls_rows(self, result)
        self.assertEqual([r["name"] for r in rows],
                         ["peer", "registry", "worker"], result)
        by_name = {r["name"]: r for r in rows}
        for name, node, address in (
                ("registry", self.registry_node, self.registry),
                ("worker", self.worker, self.worker_address),
                ("peer", self.peer, self.peer_address)):
            with self.subTest(name=name):
                self.assertEqual(by_name[name]["pid"], node.pid, result)
                self.assertEqual(by_name[name]["addresses"], [address],
                                 result)
                self.assertRegex(by_name[name]["uuid"], f"^{UUID}$")
        self.assertEqual(result.stderr, [], result)

    def test_ls_json_is_the_registrar_list(self):
        result = self.ctl("--json", "ls")
        entries = json_entries(self, result)
        by_name = {e["actor"]["id"]["name"]: e for e in entries}
        self.assertEqual(sorted(by_name), ["peer", "registry", "worker"],
                         result)
        self.assertEqual(int(by_name["worker"]["pid"]), self.worker.pid)
        self.assertEqual(by_name["worker"]["actor"]["addresses"],
                         [self.worker_address])
        self.assertIn("registered_at", by_name["worker"], result)
        # Text and JSON name the same actors.
        text = ls_rows(self, self.ctl("ls"))
        self.assertEqual({r["uuid"] for r in text},
                         {e["actor"]["id"]["uuid"] for e in entries})

    # --- info ---

    def serve_a_call(self):
        """Has the worker serve one context, so its frame counters move."""
        result = self.ctl("call", "worker", "echo", "--args=1")
        self.assertEqual(result.returncode, 0, result)

    def test_info_text(self):
        uuid = self.uuid_of("worker")
        self.serve_a_call()
        result = self.ctl("info", "worker")
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(result.stdout[0], f"worker[{uuid}]", result)
        fields = {}
        for line in result.stdout[1:]:
            match = re.match(r"^  (\w+) +(.*)$", line)
            if match:
                fields[match.group(1)] = match.group(2)
        self.assertEqual(fields.get("pid"), str(self.worker.pid), result)
        self.assertEqual(fields.get("addresses"), self.worker_address,
                         result)
        self.assertRegex(fields.get("uptime", ""), r"^[0-9.hms]+$")
        self.assertRegex(fields.get("contexts", ""), r"^\d+$")
        frames = re.match(r"^sent (\d+) received (\d+)$",
                          fields.get("frames", ""))
        self.assertIsNotNone(frames, result)
        # The call's StartAck and Start at least.
        self.assertGreater(int(frames.group(1)), 0, result)
        self.assertGreater(int(frames.group(2)), 0, result)
        self.assertEqual(fields.get("children"), "0", result)
        self.assertNotIn("parent", fields, "a node that joined a registry "
                         "is not supervised by it")

    def test_info_json(self):
        self.serve_a_call()
        result = self.ctl("--json", "info", "worker")
        self.assertEqual(result.returncode, 0, result)
        info = result.json()
        self.assertEqual(info["id"],
                         {"name": "worker", "uuid": self.uuid_of("worker")})
        self.assertEqual(int(info["pid"]), self.worker.pid)
        self.assertEqual(info["addresses"], [self.worker_address])
        self.assertEqual(info["functions"], INTEROP_FUNCTIONS)
        self.assertRegex(info["uptime"], r"^[0-9.]+s$")
        self.assertNotIn("parent", info)
        # 64-bit counters are JSON strings; zero ones would be left out.
        self.assertGreater(int(info.get("frames_sent", 0)), 0, result)
        self.assertGreater(int(info.get("frames_received", 0)), 0, result)
        self.assertGreater(int(info.get("contexts_served", 0)), 0, result)

    # --- call ---

    def test_call_returns_the_result_as_json(self):
        args = {"x": [1, "two", None, {"three": True}]}
        for flags in ([], ["--json"]):
            with self.subTest(flags=flags):
                result = self.ctl(*flags, "call", "worker", "echo",
                                  f"--args={json.dumps(args)}")
                self.assertEqual(result.returncode, 0, result)
                self.assertEqual(result.json(), args, result)
                self.assertEqual(result.stderr, [], result)

    def test_call_without_args_sends_null(self):
        result = self.ctl("call", "worker", "echo")
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(result.stdout, ["null"], result)

    def test_remote_error_text_names_type_source_and_relay_path(self):
        uuid8 = self.uuid_of("worker")[:8]
        result = self.ctl("call", "worker", "fail",
                          '--args={"type":"ValueError","message":"boom"}')
        self.assertEqual(result.returncode, 1, result)
        self.assertEqual(result.stdout, [], result)
        self.assertEqual(result.stderr[:4], [
            "actorctl: remote error: ValueError: boom",
            f"  source: worker[{uuid8}]",
            f"  relay path: worker[{uuid8}]",
            "  function: fail",
        ], result)

    def test_remote_error_json(self):
        uuid = self.uuid_of("worker")
        result = self.ctl("--json", "call", "worker", "fail",
                          '--args={"type":"ValueError","message":"boom"}')
        self.assertEqual(result.returncode, 1, result)
        error = result.json()["error"]
        self.assertEqual(error["kind"], "ERROR_KIND_APPLICATION")
        self.assertEqual(error["type"], "ValueError")
        self.assertEqual(error["message"], "boom")
        self.assertEqual(error["source"], {"name": "worker", "uuid": uuid})
        self.assertEqual(error["relay_path"], [error["source"]])
        self.assertEqual(error["function"], "fail")

    def test_relayed_error_shows_every_hop(self):
        worker8 = self.uuid_of("worker")[:8]
        peer8 = self.uuid_of("peer")[:8]
        args = json.dumps({"address": self.peer_address, "function": "fail",
                           "args": {"type": "KeyError", "message": "gone"}})
        result = self.ctl("call", "worker", "call_peer", f"--args={args}")
        self.assertEqual(result.returncode, 1, result)
        self.assertEqual(result.stderr[:3], [
            "actorctl: remote error: KeyError: gone",
            f"  source: peer[{peer8}]",
            # Newest first: the error travelled peer -> worker.
            f"  relay path: worker[{worker8}] <- peer[{peer8}]",
        ], result)

        result = self.ctl("--json", "call", "worker", "call_peer",
                          f"--args={args}")
        self.assertEqual(result.returncode, 1, result)
        path = [hop["name"] for hop in result.json()["error"]["relay_path"]]
        self.assertEqual(path, ["peer", "worker"], result)

    def test_unknown_function_is_a_remote_error(self):
        result = self.ctl("call", "worker", "no_such_function")
        self.assertEqual(result.returncode, 1, result)
        self.assertRegex(result.stderr[0],
                         r"^actorctl: remote error: tether\.NoSuchFunction: "
                         r".*no_such_function")

    # --- stream ---

    def test_stream_counter(self):
        for flags in ([], ["--json"]):
            with self.subTest(flags=flags):
                result = self.ctl(*flags, "stream", "worker", "counter",
                                  '--args={"n":3}')
                self.assertEqual(result.returncode, 0, result)
                self.assertEqual(result.stdout, [
                    '{"started":0}', "1", "2", "3", '{"returned":3}'],
                    result)
                self.assertEqual(result.stderr, [], result)

    def test_stream_echo_stream_sends_stdin_lines(self):
        result = self.ctl("stream", "worker", "echo_stream",
                          stdin_text='1\n"two"\n\nnot json\n{"three":[3]}\n')
        self.assertEqual(result.returncode, 0, result)
        # The empty line is skipped silently, the malformed one with a
        # warning; end of input closes the send side, so echo_stream
        # returns how many values it echoed.
        self.assertEqual(result.stdout, [
            '{"started":null}', "1", '"two"', '{"three":[3]}',
            '{"returned":3}'], result)
        self.assertTrue(result.stderr, result)
        self.assertTrue(
            result.stderr[0].startswith("actorctl: skipped a line: "), result)

    def test_stream_skips_a_line_too_large_for_the_callees_frames(self):
        # 5 MB of JSON string: above the callee's 4 MB frame limit, so the
        # send is refused before it leaves; the stream goes on.
        big = '"' + "x" * (5 << 20) + '"'
        result = self.ctl("stream", "worker", "echo_stream",
                          stdin_text="1\n" + big + "\n2\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, [
            '{"started":null}', "1", "2", '{"returned":2}'], result.stderr)
        self.assertEqual(len(result.stderr), 1, result.stderr)
        self.assertTrue(
            result.stderr[0].startswith("actorctl: skipped a line: a payload"),
            result.stderr)

    def test_stream_with_bad_arguments_is_a_remote_error(self):
        for flags in ([], ["--json"]):
            with self.subTest(flags=flags):
                result = self.ctl(*flags, "stream", "worker", "counter",
                                  '--args={"n":"3"}')
                self.assertEqual(result.returncode, 1, result)
                if flags:
                    error = result.json()["error"]
                    self.assertEqual(error["kind"],
                                     "ERROR_KIND_BAD_ARGUMENT")
                else:
                    self.assertTrue(result.stderr[0].startswith(
                        "actorctl: remote error: tether.BadArgument: "
                        "counter: "), result)

    # --- errors before any remote work ---

    def test_unknown_name_exits_2_with_one_line(self):
        for args in (["info", "nobody"], ["call", "nobody", "echo"],
                     ["stream", "nobody", "counter"], ["cancel", "nobody"],
                     ["--json", "info", "nobody"]):
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assertEqual(result.returncode, 2, result)
                self.assertEqual(result.stdout, [], result)
                self.assertEqual(result.stderr, [
                    f"actorctl: error: no actor named 'nobody' in registry "
                    f"{self.registry}"], result)

    def test_bad_usage_exits_2(self):
        for args in ([], ["info"], ["info", "worker", "extra"], ["ls", "x"],
                     ["frobnicate"], ["call", "worker"],
                     ["stream", "worker"], ["cancel"]):
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assertEqual(result.returncode, 2, result)
                self.assertEqual(result.stdout, [], result)
                self.assertTrue(
                    result.stderr[0].startswith("actorctl: error: "), result)
                self.assertTrue(
                    any(line.startswith("usage: actorctl ")
                        for line in result.stderr), result)

    def test_malformed_args_exit_2(self):
        for command in (["call", "worker", "echo"],
                        ["stream", "worker", "echo_stream"]):
            with self.subTest(command=command):
                result = self.ctl(*command, "--args={bad")
                self.assertEqual(result.returncode, 2, result)
                self.assertEqual(result.stdout, [], result)
                self.assertTrue(result.stderr[0].startswith(
                    "actorctl: error: --args: malformed JSON"), result)

    def check_flag_error(self, args, error):
        """`args` is a usage error: exit 2, `error` on one line, then the
        usage hint, and nothing else."""
        result = self.ctl(*args)
        self.assertEqual(result.returncode, 2, result)
        self.assertEqual(result.stdout, [], result)
        self.assertEqual(len(result.stderr), 2, result)
        self.assertEqual(result.stderr[0], f"actorctl: error: {error}",
                         result)
        self.assertTrue(result.stderr[1].startswith("usage: actorctl "),
                        result)
        self.assertIn("actorctl --help", result.stderr[1], result)

    def test_unknown_flag_exits_2(self):
        for args, error in (
                (["--bogus", "ls"], "unknown flag --bogus"),
                (["info", "worker", "--verbose=1"], "unknown flag --verbose"),
                (["--timeout=soon", "ls"],
                 "--timeout: 'soon' is not a positive duration (want e.g. "
                 "500ms, 10s, 1m)"),
                (["--json=maybe", "ls"],
                 "--json: 'maybe' is not true or false"),
                (["--log_level=loud", "ls"],
                 "--log_level: unknown log level 'loud' (want debug, info, "
                 "warning or error)")):
            with self.subTest(args=args):
                self.check_flag_error(args, error)

    def test_flag_without_its_value_exits_2(self):
        for args, flag in ((["call", "worker", "echo", "--args"], "--args"),
                           (["ls", "--timeout="], "--timeout"),
                           (["--registry", "--json", "ls"], "--registry")):
            with self.subTest(args=args):
                self.check_flag_error(
                    args, f"{flag} needs a value ({flag}=VALUE)")

    def test_flags_take_their_value_in_either_form(self):
        for args in (["--timeout", "10s", "--args", "[1]"],
                     ["--timeout=10s", "--args=[1]"]):
            with self.subTest(args=args):
                result = self.ctl("call", "worker", "echo", *args)
                self.assertEqual(result.returncode, 0, result)
                self.assertEqual(result.stdout, ["[1]"], result)

    def test_help_exits_0_listing_commands_and_flags(self):
        for args in (["--help"], ["-h"], ["info", "worker", "--help"],
                     ["--bogus", "--help"]):
            with self.subTest(args=args):
                # Help needs no registry: none is given, none is asked.
                result = self.cluster.ctl(*args)
                self.assertEqual(result.returncode, 0, result)
                self.assertEqual(result.stderr, [], result)
                self.assertEqual(result.stdout[0],
                                 "usage: actorctl [FLAGS] COMMAND [OPERANDS]",
                                 result)
                text = "\n".join(result.stdout)
                for word in ("ls", "tree", "info NAME", "call NAME FUNCTION",
                             "stream NAME FUNCTION", "cancel NAME",
                             "--registry=ADDR", "--json", "--args=JSON",
                             "--timeout=DURATION", "--log_level=LEVEL",
                             "--help, -h"):
                    self.assertIn(word, text, result)


class InteractiveStreamTest(unittest.TestCase):
    """`stream` as a user at a terminal drives it: each stdin line is sent
    as it is typed; a stream left open shows in `info`; SIGINT cancels it,
    and actorctl reports the ContextCancelled naming itself as canceller."""

    def setUp(self):
        self.cluster = self.enterContext(Cluster())
        _, self.registry = self.cluster.start("registry")
        self.worker, _ = self.cluster.start("worker", registry=self.registry)

    def open_stream(self, function):
        """Starts `actorctl stream worker FUNCTION` reading a pipe."""
        return self.cluster.enter(node_harness.NodeProcess(
            [f"--registry={self.registry}", "stream", "worker", function],
            binary=actorctl_binary(), env=self.cluster.env, stdin=True))

    def test_each_line_is_sent_as_it_comes(self):
        stream = self.open_stream("echo_stream")
        stream.wait_for_stdout(r'^\{"started":null\}$')
        # Each echo arrives while stdin is still open: lines are not
        # buffered until end of input.
        stream.write_stdin('{"n":1}\n')
        stream.wait_for_stdout(r'^\{"n":1\}$')
        stream.write_stdin('"second"\n')
        stream.wait_for_stdout(r'^"second"$')
        stream.close_stdin()
        returncode = stream.wait_exit(timeout=10)
        stdout, stderr = stream.output()
        self.assertEqual(returncode, 0, stderr)
        self.assertEqual(stdout, ['{"started":null}', '{"n":1}', '"second"',
                                  '{"returned":2}'], stderr)

    def test_sigint_cancels_the_stream(self):
        cluster, registry, worker = self.cluster, self.registry, self.worker
        stream = self.open_stream("sleep_forever")
        # Printed once the context is open; from then on SIGINT cancels it.
        stream.wait_for_stdout(r'^\{"started":null\}$')

        info = cluster.ctl(f"--registry={registry}", "--json", "info",
                           "worker")
        self.assertEqual(info.returncode, 0, info)
        contexts = info.json().get("contexts", [])
        self.assertEqual(len(contexts), 1, info)
        self.assertEqual(contexts[0]["function"], "sleep_forever")
        self.assertEqual(contexts[0]["side"], "SIDE_CALLEE")
        self.assertEqual(contexts[0]["state"], "STATE_STARTED")
        self.assertEqual(contexts[0]["peer"]["name"], "actorctl")
        stream_uuid = contexts[0]["peer"]["uuid"]

        text = cluster.ctl(f"--registry={registry}", "info", "worker")
        self.assertIn("  contexts   1", text.stdout, text)
        # Frames so far: the callee has read Start, and written StartAck at
        # least (Started was read by actorctl, but its write may not have
        # been counted yet).
        self.assertGreaterEqual(int(contexts[0]["frames_received"]), 1, info)
        self.assertGreaterEqual(int(contexts[0]["frames_sent"]), 1, info)
        self.assertNotIn("payloads_sent", contexts[0], "none yet")
        context_lines = [line for line in text.stdout
                         if line.startswith("    sleep_forever ")]
        self.assertEqual(len(context_lines), 1, text)
        self.assertRegex(
            context_lines[0],
            rf"^    sleep_forever SIDE_CALLEE STATE_STARTED peer "
            rf"actorctl\[{stream_uuid[:8]}\] payloads sent 0 received 0, "
            rf"frames sent [1-9]\d* received [1-9]\d*$")

        os.kill(stream.pid, signal.SIGINT)
        returncode = stream.wait_exit(timeout=10)
        stdout, stderr = stream.output()
        context = f"exit {returncode}, stdout {stdout!r}, stderr {stderr!r}"
        self.assertEqual(returncode, 0, context)
        self.assertEqual(len(stdout), 2, context)
        cancelled = json.loads(stdout[1])["cancelled"]
        self.assertEqual(cancelled["kind"], "ERROR_KIND_CONTEXT_CANCELLED")
        self.assertEqual(cancelled["type"], "tether.ContextCancelled")
        self.assertEqual(cancelled["canceller"],
                         {"name": "actorctl", "uuid": stream_uuid}, context)
        self.assertEqual(cancelled["source"]["name"], "worker")
        self.assertEqual(cancelled["function"], "sleep_forever")

        # The context ended on the callee too; the worker lives on.
        poll(lambda: not cluster.ctl(f"--registry={registry}", "--json",
                                     "info", "worker").json().get("contexts"),
             SETTLE_TIMEOUT_S, "the worker's context to end")
        self.assertIsNone(worker.returncode)


class CancelTest(unittest.TestCase):
    """`cancel NAME` stops the actor, which then leaves the registry."""

    def setUp(self):
        self.cluster = self.enterContext(Cluster())
        _, self.registry = self.cluster.start("registry")

    def ctl(self, *args):
        return self.cluster.ctl(f"--registry={self.registry}", *args)

    def check_cancel(self, json_output):
        node, _ = self.cluster.start("doomed", registry=self.registry)
        [uuid] = [e["actor"]["id"]["uuid"]
                  for e in json_entries(self, self.ctl("--json", "ls"))
                  if e["actor"]["id"]["name"] == "doomed"]

        result = self.ctl(*(["--json"] if json_output else []), "cancel",
                          "doomed")
        self.assertEqual(result.returncode, 0, result)
        if json_output:
            self.assertEqual(result.json(), {
                "cancelled": {"name": "doomed", "uuid": uuid}}, result)
        else:
            self.assertEqual(result.stdout, [f"cancelled doomed[{uuid}]"],
                             result)
        self.assertEqual(node.wait_exit(), 0, node.stderr_lines())
        poll(lambda: "doomed" not in names_listed(self.cluster, self.registry),
             SETTLE_TIMEOUT_S, "ls to stop listing the cancelled actor")
        gone = self.ctl("info", "doomed")
        self.assertEqual(gone.returncode, 2, gone)

    def test_cancel_text(self):
        self.check_cancel(json_output=False)

    def test_cancel_json(self):
        self.check_cancel(json_output=True)


class TreeTest(unittest.TestCase):
    """`tree` shows a root program's supervision tree: tests/trees/tree_root's
    `tree` scenario, tree-root -> middle-1, middle-2 -> a grandchild each."""

    @classmethod
    def setUpClass(cls):
        # Orphans of the tree come to this process (not to init, which
        # does not reap here), so none is left behind even if the root dies
        # first.
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_CHILD_SUBREAPER")
        cls.cluster = cls.enterClassContext(Cluster())
        cls.addClassCleanup(cls._reap_tree)
        cls.root, cls.registry = cls.cluster.start_program(
            tree_root_binary(), ["--scenario=tree"])
        pids = cls.root.wait_for_stdout(r"^observed tree_pids=([0-9,]+)$",
                                        TREE_TIMEOUT_S).group(1)
        cls.root.wait_for_stdout(r"^observed tree=ready$", TREE_TIMEOUT_S)
        m1, g1, m2, g2 = (int(p) for p in pids.split(","))
        cls.pids = {"middle-1": m1, "middle-2": m2,
                    "grandchild": {g1, g2}}

    @classmethod
    def _reap_tree(cls):
        """SIGKILLs what is left of the tree's process group and reaps the
        members this process adopted."""
        pgid = cls.root.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        cls.root.kill()
        poll(lambda: not _reap_group(pgid), TREE_EXIT_TIMEOUT_S,
             f"process group {pgid} to be gone")

    def ctl(self, *args):
        return self.cluster.ctl(f"--registry={self.registry}", *args)

    def test_tree_text(self):
        result = self.ctl("tree")
        self.assertEqual(result.returncode, 0, result)
        nodes = []  # (depth, name, pid, state, parent index)
        for line in result.stdout:
            match = re.match(
                r"^(?P<indent>(?:\|  |   )*)(?P<branch>\|- |`- )?"
                r"(?P<name>\S+)\[(?P<uuid8>[0-9a-f]{8})\] pid (?P<pid>\d+) "
                r"(?P<state>\w+) (?P<addresses>\S+)$", line)
            self.assertIsNotNone(match, f"line {line!r}; {result}")
            depth = len(match.group("indent")) // 3 + (
                1 if match.group("branch") else 0)
            parent = None
            if depth > 0:
                parent = max(i for i, n in enumerate(nodes)
                             if n[0] == depth - 1)
            nodes.append((depth, match.group("name"), int(match.group("pid")),
                          match.group("state"), parent))
        self.check_shape(
            [(n[1], n[2], n[3], None if n[4] is None else nodes[n[4]][1])
             for n in nodes], result)

    def test_tree_json(self):
        result = self.ctl("--json", "tree")
        self.assertEqual(result.returncode, 0, result)
        flat = []

        def walk(node, parent):
            flat.append((node["name"], int(node["pid"]), node["state"],
                         parent))
            self.assertRegex(node["uuid"], f"^{UUID}$")
            self.assertEqual(len(node["addresses"]), 1, node)
            for child in node["children"]:
                walk(child, node["name"])

        roots = result.json()
        self.assertEqual(len(roots), 1, result)
        walk(roots[0], None)
        self.check_shape(flat, result)

    def check_shape(self, nodes, result):
        """`nodes`: (name, pid, state, parent name) in output order."""
        self.assertEqual(len(nodes), 5, result)
        self.assertEqual(nodes[0], ("tree-root", self.root.pid, "running",
                                    None), result)
        parents = {}
        for name, pid, state, parent in nodes[1:]:
            self.assertEqual(state, "running", result)
            if name == "grandchild":
                self.assertIn(pid, self.pids["grandchild"], result)
                parents.setdefault(parent, []).append(pid)
            else:
                self.assertEqual(pid, self.pids[name], result)
                self.assertEqual(parent, "tree-root", result)
        # One grandchild under each middle actor: the pids pair up as the
        # root observed them.
        self.assertEqual(sorted(parents), ["middle-1", "middle-2"], result)
        self.assertEqual(len(parents["middle-1"]), 1, result)
        self.assertEqual(len(parents["middle-2"]), 1, result)

    def test_ls_lists_the_whole_tree(self):
        rows = ls_rows(self, self.ctl("ls"))
        self.assertEqual(
            sorted(r["name"] for r in rows),
            ["grandchild", "grandchild", "middle-1", "middle-2", "tree-root"])
        self.assertEqual({r["pid"] for r in rows if r["name"] == "grandchild"},
                         self.pids["grandchild"])

    def test_info_lists_the_children(self):
        result = self.ctl("--json", "info", "middle-1")
        self.assertEqual(result.returncode, 0, result)
        info = result.json()
        self.assertEqual(info["parent"]["id"]["name"], "tree-root")
        children = info.get("children", [])
        self.assertEqual(len(children), 1, result)
        self.assertEqual(children[0]["actor"]["id"]["name"], "grandchild")
        self.assertIn(int(children[0]["pid"]), self.pids["grandchild"])


def _reap_group(pgid):
    """Reaps zombies of group `pgid` this process adopted; returns the pids
    of the group that still exist."""
    left = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # Gone meanwhile.
        state, ppid, group = fields[0], int(fields[1]), int(fields[2])
        if group != pgid:
            continue
        if state == "Z" and ppid == os.getpid():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry), os.WNOHANG)
            continue
        left.append(int(entry))
    return left


if __name__ == "__main__":
    node_harness.run_tests()
