"""The generated tether.v1 Python modules, found or put on sys.path.

The modules are never checked in. They are generated from proto/tether/v1
by the //client/python:tether_pb2 genrule (Debian's grpc_tools), which
writes them to client/python/gen/ in Bazel's output tree. Under `bazel
test` or `bazel run` that directory sits next to this package in the
runfiles; run from a checkout it is bazel-bin/client/python/gen. A program
that generated them some other way points TETHER_PY_STUBS at the directory
holding tether/v1/*_pb2.py, or puts it on sys.path itself.
"""

import importlib
import os
import sys

# client/python, the directory holding this package.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REPO_ROOT = os.path.dirname(os.path.dirname(_PACKAGE_PARENT))


def _candidate_dirs():
    env = os.environ.get("TETHER_PY_STUBS")
    if env:
        yield env
    yield os.path.join(_PACKAGE_PARENT, "gen")
    yield os.path.join(_REPO_ROOT, "bazel-bin", "client", "python", "gen")


def _import_stubs():
    try:
        return importlib.import_module("tether.v1.frame_pb2")
    except ImportError:
        pass
    for directory in _candidate_dirs():
        if os.path.exists(os.path.join(directory, "tether", "v1",
                                       "frame_pb2.py")):
            sys.path.insert(0, directory)
            importlib.invalidate_caches()
            return importlib.import_module("tether.v1.frame_pb2")
    raise ImportError(
        "tether_client: no generated tether.v1 stubs; run `bazel build "
        "//client/python:tether_pb2` or set TETHER_PY_STUBS to a directory "
        "holding tether/v1/*_pb2.py")


frame_pb2 = _import_stubs()
actor_pb2 = importlib.import_module("tether.v1.actor_pb2")
actor_pb2_grpc = importlib.import_module("tether.v1.actor_pb2_grpc")
error_pb2 = importlib.import_module("tether.v1.error_pb2")
identity_pb2 = importlib.import_module("tether.v1.identity_pb2")
payload_pb2 = importlib.import_module("tether.v1.payload_pb2")
registrar_pb2 = importlib.import_module("tether.v1.registrar_pb2")
registrar_pb2_grpc = importlib.import_module("tether.v1.registrar_pb2_grpc")
status_pb2 = importlib.import_module("google.rpc.status_pb2")
