#!/usr/bin/python3
"""Runs every grpcurl command of docs/grpcurl.md against live nodes.

The commands are read from the document itself, so the two cannot drift:
each fenced ```sh block that mentions grpcurl must be preceded by a
marker line `<!-- check: NAME -->`, and NAME selects the assertions below
(an unmarked block, an unknown name or a check without its block fails
the test). The document's address 127.0.0.1:7000 is replaced by a live
node's and `bazel run -q //actorctl --` by the built actorctl; the command
then runs under bash exactly as written, here documents and coprocesses
included, with $TOKEN set as the document's `token` check sets it.

With grpcurl on PATH the real one runs. Otherwise (Debian does not package
it and npm does not publish it) grpcurl_standin.py takes its place: a
client that learns every type from server reflection alone and sends the
same requests. Either way the output must show what the document promises:
the services listed, the Actor service described, Info's id, a context's
StartAck/Started/Yield/Stop/Return frames, and errors with grpcurl's exit
code (64 + status code).
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402

sys.path.insert(0, node_harness.runfile("client/python"))

import tether_client  # noqa: E402

DOC = "docs/grpcurl.md"
DOC_ADDRESS = "127.0.0.1:7000"
DOC_ACTORCTL = "bazel run -q //actorctl --"
COMMAND_TIMEOUT_S = 30.0
RPC_TIMEOUT_S = 10.0
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]
STATUS_CODE_OFFSET = 64
# The uuid the document's frames give the command-line opener.
CLI_UUID = "6f1c2d3e-4b5a-4c6d-8e7f-901234567890"
INTEROP_FUNCTIONS = {"echo", "counter", "echo_stream", "sleep_forever",
                     "fail", "call_peer"}

_MARKER = re.compile(r"^<!-- check: (?P<name>[a-z0-9-]+) -->$")
_FENCE = re.compile(r"^```(?P<info>\S*)\s*$")


def actorctl_binary():
    """The built actorctl (runfiles, or bazel-bin by hand)."""
    if os.environ.get("TEST_SRCDIR"):
        return node_harness.runfile("actorctl/actorctl")
    return node_harness.runfile("bazel-bin/actorctl/actorctl")


def doc_commands(text):
    """{check name: command} for every marked ```sh block of the document.

    Raises AssertionError for a grpcurl block without a marker, a marker
    not followed by a ```sh block, or a name used twice.
    """
    lines = text.splitlines()
    commands = {}
    pending = None  # A marker waiting for its block.
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        fence = _FENCE.match(lines[i])
        if marker:
            pending = marker.group("name")
        elif fence:
            end = i + 1
            while not lines[end].startswith("```"):
                end += 1
            body = "\n".join(lines[i + 1:end]) + "\n"
            if fence.group("info") == "sh" and pending:
                if pending in commands:
                    raise AssertionError(f"check {pending!r} used twice")
                commands[pending] = body
            elif fence.group("info") == "sh" and "grpcurl" in body:
                raise AssertionError(f"grpcurl block without a check marker:"
                                     f"\n{body}")
            elif pending:
                raise AssertionError(f"check {pending!r} is not followed by "
                                     f"a ```sh block")
            pending = None
            i = end
        elif lines[i].strip():
            if pending:
                raise AssertionError(f"check {pending!r} is not followed by "
                                     f"a ```sh block")
        i += 1
    return commands


def json_values(text):
    """The consecutive JSON values grpcurl printed (one per message)."""
    decoder = json.JSONDecoder()
    values = []
    text = text.strip()
    while text:
        value, end = decoder.raw_decode(text)
        values.append(value)
        text = text[end:].strip()
    return values


def payload_value(payload):
    """The JSON value of a Payload in JSON form (absent means null)."""
    return (payload or {}).get("json")


class Frames:
    """The frames of one Context call, as grpcurl printed them."""

    def __init__(self, test, stdout):
        self.frames = json_values(stdout)
        self.kinds = [next(iter(f)) for f in self.frames]
        self.test = test

    def one(self, kind):
        found = [f[kind] for f in self.frames if kind in f]
        self.test.assertEqual(len(found), 1,
                              f"want one {kind} frame in {self.kinds}")
        return found[0]

    def data(self):
        return [payload_value(v) for f in self.frames if "yieldBatch" in f
                for v in f["yieldBatch"].get("values", [])]


class GrpcurlDocTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(node_harness.runfile(DOC), encoding="utf-8") as doc:
            cls.commands = doc_commands(doc.read())
        cls.tools = tempfile.mkdtemp(prefix="grpcurl-bin-")
        cls.real_grpcurl = shutil.which("grpcurl")
        if not cls.real_grpcurl:
            shim = os.path.join(cls.tools, "grpcurl")
            with open(shim, "w", encoding="utf-8") as out:
                out.write("#!/bin/sh\nexec /usr/bin/python3 {} \"$@\"\n".format(
                    os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "grpcurl_standin.py")))
            os.chmod(shim, os.stat(shim).st_mode | stat.S_IXUSR)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tools, ignore_errors=True)

    def setUp(self):
        # A root (hosts the registrar) and a worker registered with it, as
        # the document starts them.
        self.node = self.enterContext(node_harness.NodeProcess(
            ["--name=node", "--listen=127.0.0.1:0"]))
        self.address = self.node.wait_listening()
        worker = self.enterContext(node_harness.NodeProcess(
            ["--name=worker", "--listen=127.0.0.1:0",
             f"--registry={self.address}"]))
        worker_address = worker.wait_listening()
        # The token the node made, from its record on this machine, as
        # actorctl and the Python client find it.
        self.token = tether_client.credentials.local_root_token(self.address)
        self.assertIsNotNone(self.token)
        with tether_client.connect(self.address,
                                   channel_options=CHANNEL_OPTIONS) as node:
            self.node_id = node.info(timeout=RPC_TIMEOUT_S).id
        with tether_client.connect(worker_address,
                                   channel_options=CHANNEL_OPTIONS,
                                   token=self.token) as actor:
            self.worker_id = actor.info(timeout=RPC_TIMEOUT_S).id
        with tether_client.Registrar(
                self.address, channel_options=CHANNEL_OPTIONS) as registrar:
            registrar.wait("worker", RPC_TIMEOUT_S)

    def run_check(self, name, then="", token=True):
        """Runs the document's command for `name` (followed by `then`), with
        $TOKEN set unless not `token`; returns the result."""
        self.assertIn(name, self.commands, f"{DOC} has no check {name!r}")
        command = self.commands[name].replace(DOC_ADDRESS, self.address)
        command = command.replace(DOC_ACTORCTL, actorctl_binary()) + then
        env = dict(os.environ)
        env.pop("TOKEN", None)
        if token:
            env["TOKEN"] = self.token
        env["PATH"] = self.tools + os.pathsep + env.get("PATH", "")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command], env=env,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
            check=False)
        self._last = f"$ {command}\nstdout:\n{result.stdout}\nstderr:\n" \
                     f"{result.stderr}\nexit {result.returncode}"
        return result

    def assertExit(self, result, code):
        self.assertEqual(result.returncode, code, self._last)

    # The document's checks, one test each. ----------------------------------

    def test_every_check_has_a_test(self):
        tested = {name[len("test_check_"):].replace("_", "-")
                  for name in dir(self) if name.startswith("test_check_")}
        self.assertEqual(set(self.commands), tested,
                         f"the checks of {DOC} and the tests must match")

    def test_check_token(self):
        result = self.run_check("token", then='printf "%s" "$TOKEN"\n',
                                token=False)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, self.token,
                         "actorctl token must print the node's token")

    def test_check_no_token(self):
        result = self.run_check("no-token", token=False)
        # Reflection is refused first, so grpcurl never makes the call.
        self.assertExit(result, 1)
        self.assertIn("code = Unauthenticated", result.stderr, self._last)
        self.assertEqual(result.stdout.strip(), "", self._last)

    def test_check_list(self):
        result = self.run_check("list")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout.split(), [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection", "tether.v1.Actor",
            "tether.v1.Registrar"], self._last)

    def test_check_list_actor(self):
        result = self.run_check("list-actor")
        self.assertExit(result, 0)
        self.assertEqual(set(result.stdout.split()), {
            "tether.v1.Actor.Cancel", "tether.v1.Actor.Context",
            "tether.v1.Actor.Info", "tether.v1.Actor.Signal"}, self._last)

    def test_check_describe_actor(self):
        result = self.run_check("describe-actor")
        self.assertExit(result, 0)
        self.assertTrue(result.stdout.startswith(
            "tether.v1.Actor is a service:\n"), self._last)
        for rpc in (
                "rpc Context ( stream .tether.v1.Frame ) returns "
                "( stream .tether.v1.Frame );",
                "rpc Info ( .tether.v1.InfoRequest ) returns "
                "( .tether.v1.ActorInfo );",
                "rpc Cancel ( .tether.v1.CancelActorRequest ) returns "
                "( .tether.v1.CancelActorResponse );",
                "rpc Signal ( .tether.v1.SignalRequest ) returns "
                "( .tether.v1.SignalResponse );"):
            self.assertIn(rpc, result.stdout, self._last)

    def test_check_info(self):
        result = self.run_check("info")
        self.assertExit(result, 0)
        [info] = json_values(result.stdout)
        self.assertEqual(info["id"], {"name": self.node_id.name,
                                      "uuid": self.node_id.uuid}, self._last)
        self.assertEqual(info["pid"], str(self.node.pid),
                         "int64 fields are JSON strings")
        self.assertLessEqual(INTEROP_FUNCTIONS, set(info["functions"]))

    def test_check_registrar_list(self):
        result = self.run_check("registrar-list")
        self.assertExit(result, 0)
        [response] = json_values(result.stdout)
        workers = [e for e in response["entries"]
                   if e["actor"]["id"]["name"] == "worker"]
        self.assertEqual([e["actor"]["id"]["uuid"] for e in workers],
                         [self.worker_id.uuid], self._last)
        self.assertTrue(workers[0]["actor"]["addresses"], self._last)

    def test_check_registrar_find(self):
        result = self.run_check("registrar-find")
        self.assertExit(result, 0)
        [response] = json_values(result.stdout)
        self.assertEqual(
            [e["actor"]["id"]["uuid"] for e in response["entries"]],
            [self.worker_id.uuid], self._last)

    def assertStartAck(self, frames, kind, context_id):
        ack = frames.one("startAck")
        self.assertEqual(frames.kinds[0], "startAck", self._last)
        self.assertEqual(ack["kind"], kind, self._last)
        self.assertEqual(ack["contextId"], context_id, self._last)
        self.assertEqual(ack["callee"]["id"]["uuid"], self.node_id.uuid)

    def test_check_echo(self):
        result = self.run_check("echo")
        self.assertExit(result, 0)
        frames = Frames(self, result.stdout)
        self.assertEqual(frames.kinds, ["startAck", "returned"], self._last)
        self.assertStartAck(frames, "FUNCTION_KIND_PLAIN", "c-echo-1")
        self.assertEqual(payload_value(frames.one("returned").get("value")),
                         {"value": "hello"}, self._last)

    def test_check_counter(self):
        result = self.run_check("counter")
        self.assertExit(result, 0)
        frames = Frames(self, result.stdout)
        self.assertStartAck(frames, "FUNCTION_KIND_CONTEXT", "c-cnt-3")
        self.assertEqual(payload_value(frames.one("started").get("value")), 0)
        self.assertEqual(frames.data(), [1, 2, 3], self._last)
        self.assertEqual(frames.one("stop"), {"dataCount": "3"})
        returned = frames.one("returned")
        self.assertEqual(payload_value(returned.get("value")), 3)
        self.assertEqual(returned["dataCount"], "3")

    def test_check_echo_stream(self):
        result = self.run_check("echo-stream")
        self.assertExit(result, 0)
        frames = Frames(self, result.stdout)
        self.assertStartAck(frames, "FUNCTION_KIND_CONTEXT", "c-echo-2")
        self.assertIsNone(payload_value(frames.one("started").get("value")))
        self.assertEqual(frames.data(), ["hello", {"n": 2}, [3, True]],
                         self._last)
        self.assertEqual(frames.one("stop"), {"dataCount": "3"})
        returned = frames.one("returned")
        self.assertEqual(payload_value(returned.get("value")), 3)
        self.assertEqual(returned["dataCount"], "3")

    def test_check_fail(self):
        result = self.run_check("fail")
        self.assertExit(result, STATUS_CODE_OFFSET + 10)  # ABORTED
        frames = Frames(self, result.stdout)
        self.assertEqual(frames.kinds, ["startAck", "error"], self._last)
        error = frames.one("error")["error"]
        self.assertEqual(error["kind"], "ERROR_KIND_APPLICATION")
        self.assertEqual((error["type"], error["message"]),
                         ("ValueError", "boom"))
        self.assertEqual(error["relayPath"], [{"name": self.node_id.name,
                                               "uuid": self.node_id.uuid}])
        self.assertIn("Code: Aborted", result.stderr)
        self.assertIn("Message: ValueError: boom", result.stderr)
        self.assertIn("tether.v1.ErrorInfo", result.stderr,
                      "the status details carry the ErrorInfo")

    def test_check_cancel(self):
        result = self.run_check("cancel")
        self.assertExit(result, STATUS_CODE_OFFSET + 1)  # CANCELLED
        frames = Frames(self, result.stdout)
        self.assertStartAck(frames, "FUNCTION_KIND_CONTEXT", "c-sleep-1")
        error = frames.one("error")["error"]
        self.assertEqual(frames.kinds[-1], "error", self._last)
        self.assertEqual(error["kind"], "ERROR_KIND_CONTEXT_CANCELLED")
        self.assertEqual(error["canceller"], {"name": "cli",
                                              "uuid": CLI_UUID}, self._last)
        self.assertIn("Code: Canceled", result.stderr)


if __name__ == "__main__":
    node_harness.run_tests()
