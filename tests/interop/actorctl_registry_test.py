#!/usr/bin/python3
"""Which registry actorctl uses, and what it says when it cannot use it.

--registry=ADDR first, then $TETHER_REGISTRY, then the newest live root
recorded under $XDG_RUNTIME_DIR (runtime/process/local_roots.h); a registry that is
refused, missing, malformed or not a registrar is exit 2 with one line on
stderr naming it. Every process a test starts is killed on the way out
(tests/interop/actorctl_harness.py).
"""

import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402
from actorctl_harness import Cluster, refused_port  # noqa: E402


class RegistryErrorTest(unittest.TestCase):
    """A registry actorctl cannot use: exit 2 and one line on stderr that
    names it, before any remote work."""

    def assertOneLineFailure(self, registry, needle, cluster=None):
        cluster = cluster or self.enterContext(Cluster())
        for args in (["ls"], ["tree"], ["info", "worker"],
                     ["call", "worker", "echo"], ["--json", "ls"]):
            with self.subTest(registry=registry, args=args):
                result = cluster.ctl(f"--registry={registry}",
                                     "--timeout=3s", *args)
                self.assertEqual(result.returncode, 2, result)
                self.assertEqual(result.stdout, [], result)
                self.assertEqual(len(result.stderr), 1, result)
                self.assertTrue(
                    result.stderr[0].startswith("actorctl: error: "), result)
                self.assertIn(needle, result.stderr[0], result)

    def test_refused_tcp_port(self):
        with refused_port() as port:
            address = f"127.0.0.1:{port}"
            self.assertOneLineFailure(address, address)

    def test_missing_unix_socket(self):
        with node_harness.socket_dir() as directory:
            path = os.path.join(directory, "nobody.sock")
            self.assertOneLineFailure(f"unix:{path}", path)

    def test_malformed_address(self):
        self.assertOneLineFailure("nonsense", "nonsense")

    def test_actor_without_a_registrar(self):
        # A node that joined a registry serves Actor but no Registrar.
        cluster = self.enterContext(Cluster())
        _, registry = cluster.start("registry")
        _, worker = cluster.start("worker", registry=registry)
        self.assertOneLineFailure(worker, worker, cluster)


class DefaultRegistryTest(unittest.TestCase):
    """Without --registry: $TETHER_REGISTRY, else the newest live root
    recorded under $XDG_RUNTIME_DIR (runtime/process/local_roots.h)."""

    def setUp(self):
        self.cluster = self.enterContext(Cluster())

    def record_of(self, node):
        return os.path.join(self.cluster.runtime_dir,
                            f"tether-{os.getuid()}", "roots", str(node.pid))

    def names(self, **env):
        result = self.cluster.ctl("--json", "ls", env=env)
        self.assertEqual(result.returncode, 0, result)
        return sorted(e["actor"]["id"]["name"]
                      for e in result.json().get("entries", []))

    def test_no_root_and_no_registry(self):
        result = self.cluster.ctl("ls")
        self.assertEqual(result.returncode, 2, result)
        self.assertEqual(len(result.stderr), 1, result)
        self.assertIn("no registry given and no root runs on this machine",
                      result.stderr[0], result)

    def test_the_local_root_is_found(self):
        root, registry = self.cluster.start("root-a")
        self.assertTrue(os.path.exists(self.record_of(root)),
                        "a root records itself under XDG_RUNTIME_DIR")
        self.cluster.start("worker", registry=registry)
        self.assertEqual(self.names(), ["root-a", "worker"])
        result = self.cluster.ctl("call", "worker", "echo", '--args="hi"')
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(result.stdout, ['"hi"'], result)

    def test_a_planted_state_directory_is_refused(self):
        # Another local user could create the directory first, open to all,
        # with a record of their own: actorctl must not follow it.
        state = os.path.join(self.cluster.runtime_dir,
                             f"tether-{os.getuid()}")
        roots = os.path.join(state, "roots")
        os.makedirs(roots)
        with open(os.path.join(roots, str(os.getpid())), "w") as record:
            record.write("mallory 0 127.0.0.1:1 0\n")
        os.chmod(state, 0o777)
        result = self.cluster.ctl("ls")
        self.assertEqual(result.returncode, 2, result)
        self.assertEqual(len(result.stderr), 1, result)
        self.assertIn(f"refusing {state}", result.stderr[0], result)
        self.assertIn("0777", result.stderr[0], result)

    def test_choice_of_registry(self):
        root_a, registry_a = self.cluster.start("root-a")
        self.cluster.start("worker", registry=registry_a)
        root_b, registry_b = self.cluster.start("root-b")
        now = time.time()

        # Newest first, by the record's time (set here: records are
        # timed to the second, and both were written within one).
        os.utime(self.record_of(root_a), (now - 60, now - 60))
        os.utime(self.record_of(root_b), (now, now))
        self.assertEqual(self.names(), ["root-b"])
        os.utime(self.record_of(root_b), (now - 120, now - 120))
        self.assertEqual(self.names(), ["root-a", "worker"])

        # $TETHER_REGISTRY wins over the records; --registry over both.
        self.assertEqual(self.names(TETHER_REGISTRY=registry_b), ["root-b"])
        with refused_port() as port:
            result = self.cluster.ctl(
                "--json", f"--registry={registry_b}", "ls",
                env={"TETHER_REGISTRY": f"127.0.0.1:{port}"})
        self.assertEqual(result.returncode, 0, result)

        # A root that died without removing its record is skipped, and its
        # record removed.
        os.utime(self.record_of(root_b), (now, now))
        os.kill(root_b.pid, signal.SIGKILL)
        root_b.wait_exit()
        self.assertEqual(self.names(), ["root-a", "worker"])
        self.assertFalse(os.path.exists(self.record_of(root_b)))


if __name__ == "__main__":
    node_harness.run_tests()
