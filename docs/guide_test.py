#!/usr/bin/python3
"""Keeps docs/guide.md and the README honest: every fenced code block in
them is checked.

A block is preceded (blank lines aside) by one HTML comment saying what it
is:

  <!-- snippet: docs/snippets/x.cc -->        the whole file, byte for byte
  <!-- snippet: docs/snippets/x.cc#name -->   the lines between
                                             `// [START name]` and
                                             `// [END name]` in that file
  <!-- output: docs/functions -->             what that program (a Bazel
                                             target's runfile) prints on
                                             stdout, line by line
  <!-- transcript -->                         `$ command` lines, each run
                                             with bash against a live
                                             registry and worker, followed
                                             by the output they print
  <!-- illustrative -->                       not run (commands that need
                                             Bazel or a terminal), said so

In expected output `...` stands for any text (uuids, pids, ports) and a run
of spaces for any run of whitespace (so `ls` columns may be shown aligned).
Snippet files are built by //docs (and //examples), so a block that is
byte-identical to its source compiles.
"""

import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.


def _runfiles_root():
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        return os.path.join(srcdir, os.environ.get("TEST_WORKSPACE",
                                                   "tether"))
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


ROOT = _runfiles_root()
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

import node_harness  # noqa: E402

GUIDE = "docs/guide.md"
README = "README.md"
# Where each document's snippets come from: every region of these files
# must be shown in it.
SNIPPET_SOURCES = {
    GUIDE: [f"docs/snippets/{name}"
            for name in sorted(os.listdir(os.path.join(ROOT, "docs",
                                                       "snippets")))],
    README: ["examples/first_program.cc"],
}
# One program of the guide runs a small tree; ASan on a loaded 2-core
# machine makes that seconds, not minutes.
PROGRAM_TIMEOUT_S = 120.0
COMMAND_TIMEOUT_S = 30.0

MARKER = re.compile(
    r"^<!-- (?P<kind>snippet|output|transcript|illustrative)"
    r"(?:: (?P<arg>\S+))? -->$")
FENCE = re.compile(r"^(?P<fence>```+)(?P<lang>[\w+-]*)$")
REGION = re.compile(r"^// \[(?P<edge>START|END) (?P<name>\w+)\]$")


def source(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def binary(path):
    """A program's runfile (by hand: from bazel-bin)."""
    if os.environ.get("TEST_SRCDIR"):
        return os.path.join(ROOT, path)
    return os.path.join(ROOT, "bazel-bin", path)


class Block:
    """One fenced code block of a document."""

    def __init__(self, doc, line, lang, text, marker):
        self.doc = doc
        self.line = line  # 1-based line of the opening fence
        self.lang = lang
        self.text = text  # the lines inside the fences, each with "\n"
        self.kind, self.arg = marker or (None, None)

    def where(self):
        return f"{self.doc}:{self.line}"


def parse_blocks(doc):
    """Every fenced block of the document `doc`, with the marker before
    it, if any."""
    text = source(doc)
    lines = text.split("\n")
    blocks = []
    marker = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            end = i + 1
            while end < len(lines) and lines[end] != fence.group("fence"):
                end += 1
            if end == len(lines):
                raise AssertionError(f"{doc}:{i + 1}: unclosed code block")
            body = "".join(f"{l}\n" for l in lines[i + 1:end])
            blocks.append(Block(doc, i + 1, fence.group("lang"), body,
                                marker))
            marker = None
            i = end + 1
            continue
        found = MARKER.match(line)
        if found:
            marker = (found.group("kind"), found.group("arg"))
        elif line.strip():
            marker = None  # a marker applies to the very next block only
        i += 1
    return blocks


def regions(path):
    """{name: text} of the `// [START name]` ... `// [END name]` regions."""
    found = {}
    open_name, start = None, 0
    lines = source(path).split("\n")
    for number, line in enumerate(lines):
        edge = REGION.match(line)
        if not edge:
            if "[START " in line or "[END " in line:
                raise AssertionError(f"{path}:{number + 1}: a region marker "
                                     "must be a whole top-level line")
            continue
        if edge.group("edge") == "START":
            if open_name is not None:
                raise AssertionError(f"{path}:{number + 1}: region "
                                     f"{open_name} is still open")
            open_name, start = edge.group("name"), number + 1
        else:
            if edge.group("name") != open_name:
                raise AssertionError(f"{path}:{number + 1}: END of a region "
                                     "that is not open")
            if open_name in found:
                raise AssertionError(f"{path}: region {open_name} twice")
            found[open_name] = "".join(f"{l}\n" for l in lines[start:number])
            open_name = None
    if open_name is not None:
        raise AssertionError(f"{path}: region {open_name} never ends")
    return found


def snippet_text(arg):
    path, _, name = arg.partition("#")
    if not name:
        return source(path)
    found = regions(path)
    if name not in found:
        raise AssertionError(f"{path} has no region {name!r}")
    return found[name]


def line_pattern(expected):
    """A regex for one expected output line: `...` is any text, a run of
    spaces any run of whitespace, the rest literal."""
    parts = []
    for piece in re.split(r"(\.\.\.| +)", expected):
        if piece == "...":
            parts.append(".*?")
        elif piece and piece.strip() == "":
            parts.append(r"\s+")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")


def mismatch(expected, actual):
    """None when every actual line matches its expected line, else a
    description of the first difference."""
    for number, (want, got) in enumerate(zip(expected, actual)):
        if not line_pattern(want).match(got):
            return f"line {number + 1}: expected {want!r}, got {got!r}"
    if len(expected) != len(actual):
        return (f"expected {len(expected)} lines, got {len(actual)}: "
                f"{actual!r}")
    return None


class BlocksTest(unittest.TestCase):
    """Every block is marked; snippets are their sources, byte for byte."""

    @classmethod
    def setUpClass(cls):
        cls.blocks = parse_blocks(GUIDE) + parse_blocks(README)

    def test_every_block_says_what_it_is(self):
        unmarked = [b.where() for b in self.blocks if b.kind is None]
        self.assertEqual(unmarked, [], "code blocks without a marker comment")
        self.assertGreater(len(self.blocks), 0)

    def test_snippets_are_byte_identical_to_their_sources(self):
        snippets = [b for b in self.blocks if b.kind == "snippet"]
        self.assertGreater(len(snippets), 0)
        for block in snippets:
            with self.subTest(block=block.where(), snippet=block.arg):
                want = snippet_text(block.arg)
                if block.text != want:
                    diff = "".join(difflib.unified_diff(
                        want.splitlines(True), block.text.splitlines(True),
                        block.arg, block.where()))
                    self.fail(f"{block.where()} differs from {block.arg}:\n"
                              f"{diff}")

    def test_every_region_of_every_snippet_file_is_shown(self):
        for doc, paths in SNIPPET_SOURCES.items():
            shown = {b.arg for b in self.blocks
                     if b.kind == "snippet" and b.doc == doc}
            for path in paths:
                for region in regions(path):
                    with self.subTest(doc=doc, region=f"{path}#{region}"):
                        self.assertIn(f"{path}#{region}", shown,
                                      f"a region {doc} does not show")

    def test_output_blocks_name_programs(self):
        for block in self.blocks:
            if block.kind in ("output", "snippet"):
                self.assertTrue(block.arg, f"{block.where()}: no path")


class ProgramOutputTest(unittest.TestCase):
    """Each program the guide shows the output of prints exactly that."""

    def test_programs_print_what_the_guide_shows(self):
        blocks = [b for b in parse_blocks(GUIDE) + parse_blocks(README)
                  if b.kind == "output"]
        self.assertGreater(len(blocks), 0)
        for block in blocks:
            with self.subTest(program=block.arg, block=block.where()):
                stdout, stderr = self.run_program(block.arg)
                problem = mismatch(block.text.splitlines(), stdout)
                if problem:
                    self.fail(f"{block.arg} (shown at {block.where()}): "
                              f"{problem}; stderr ends {stderr[-20:]!r}")

    def run_program(self, path):
        """Runs a root program to its end; returns (stdout, stderr) lines.

        The program's own tree is killed with it if it hangs.
        """
        with tempfile.TemporaryDirectory(
                dir=os.environ.get("TEST_TMPDIR")) as runtime_dir:
            with node_harness.NodeProcess(
                    [], binary=binary(path),
                    env={"XDG_RUNTIME_DIR": runtime_dir}) as program:
                try:
                    returncode = program.wait_exit(PROGRAM_TIMEOUT_S)
                except TimeoutError as err:
                    raise AssertionError(f"hang: {err}") from None
                stdout, stderr = program.output()
        self.assertEqual(returncode, 0,
                         f"{path}: stderr ends {stderr[-20:]!r}")
        return stdout, stderr


class TranscriptTest(unittest.TestCase):
    """The actorctl transcripts, run in order against the tree the guide
    describes: a registry (a root) and a worker that joined it, found by
    actorctl through the local-roots record."""

    def test_transcripts(self):
        blocks = [b for b in parse_blocks(GUIDE)
                  if b.kind == "transcript"]
        self.assertGreater(len(blocks), 0)
        runtime_dir = self.enterContext(tempfile.TemporaryDirectory(
            dir=os.environ.get("TEST_TMPDIR")))
        tools = self.enterContext(tempfile.TemporaryDirectory(
            dir=os.environ.get("TEST_TMPDIR")))
        os.symlink(binary("actorctl/actorctl"), os.path.join(tools, "actorctl"))
        env = {"XDG_RUNTIME_DIR": runtime_dir, "TETHER_REGISTRY": None,
               "PATH": tools + os.pathsep + os.environ.get("PATH", "")}
        registry = self.enterContext(node_harness.NodeProcess(
            ["--name=registry", "--listen=127.0.0.1:0"], env=env))
        address = registry.wait_listening()
        worker = self.enterContext(node_harness.NodeProcess(
            ["--name=worker", "--listen=127.0.0.1:0",
             f"--registry={address}"], env=env))
        worker.wait_listening()
        for block in blocks:
            for command, expected in self.commands(block):
                with self.subTest(block=block.where(), command=command):
                    output = self.run_command(command, env)
                    problem = mismatch(expected, output)
                    if problem:
                        self.fail(f"$ {command} (at {block.where()}): "
                                  f"{problem}")

    def commands(self, block):
        """(command, expected output lines) of each `$ ` line."""
        steps = []
        for line in block.text.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                self.assertTrue(steps, f"{block.where()}: output before the "
                                "first command")
                steps[-1][1].append(line)
        return steps

    def run_command(self, command, env):
        """Runs `command` with bash; returns stdout and stderr as one
        stream of lines, as a terminal shows them. It must exit 0."""
        shell = subprocess.Popen(
            ["bash", "-c", command], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=node_harness.child_env(env), start_new_session=True)
        try:
            stdout, _ = shell.communicate(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # The whole pipeline, before bash is reaped (so its pid, the
            # group's id, cannot have been reused).
            os.killpg(shell.pid, signal.SIGKILL)
            shell.communicate()
            raise AssertionError(f"hang: $ {command}") from None
        output = stdout.decode("utf-8", "replace").splitlines()
        self.assertEqual(shell.returncode, 0, f"$ {command}: {output!r}")
        return output


if __name__ == "__main__":
    if shutil.which("bash") is None:
        sys.exit("guide_test: bash is needed to run the transcripts")
    node_harness.run_tests()
