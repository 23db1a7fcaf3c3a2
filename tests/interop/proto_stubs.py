"""Python gRPC stubs for the tether.v1 contract, generated at test time.

The stubs are compiled from the repository's own .proto files (the
//proto:protos runfiles) with Debian's grpc_tools, so the tests always
speak the contract as it is in the tree, never a stale checked-in copy.
Health and reflection come from Debian's grpc-proto package, because
Debian ships no grpcio-health-checking or grpcio-reflection.

Usage:

    stubs = proto_stubs.load()
    with proto_stubs.channel(address) as channel:
        actor = stubs.actor_grpc.ActorStub(channel)
        info = actor.Info(stubs.actor.InfoRequest())
"""

import atexit
import glob
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

import grpc
import grpc_tools

import node_harness

# Debian's interpreter: grpc_tools and grpcio are Debian packages, absent
# from any other python3 that may come first on PATH.
DEBIAN_PYTHON = "/usr/bin/python3"
GRPC_PROTO_ROOT = "/usr/share/grpc-proto"
# The well-known types (google/protobuf/*.proto) shipped with grpc_tools.
WELL_KNOWN_ROOT = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")

_GRPC_PROTOS = (
    "grpc/health/v1/health.proto",
    "grpc/reflection/v1alpha/reflection.proto",
)

_MODULES = {
    "actor": "tether.v1.actor_pb2",
    "actor_grpc": "tether.v1.actor_pb2_grpc",
    "identity": "tether.v1.identity_pb2",
    "frame": "tether.v1.frame_pb2",
    "payload": "tether.v1.payload_pb2",
    "error": "tether.v1.error_pb2",
    "registrar": "tether.v1.registrar_pb2",
    "registrar_grpc": "tether.v1.registrar_pb2_grpc",
    "status": "google.rpc.status_pb2",
    "health": "grpc.health.v1.health_pb2",
    "health_grpc": "grpc.health.v1.health_pb2_grpc",
    "reflection": "grpc.reflection.v1alpha.reflection_pb2",
    "reflection_grpc": "grpc.reflection.v1alpha.reflection_pb2_grpc",
}

_loaded = None


def _tether_protos(proto_root):
    """The repository's .proto files, as paths relative to proto_root."""
    tether = sorted(glob.glob(os.path.join(proto_root, "tether/v1/*.proto")))
    if not tether:
        raise FileNotFoundError(f"no tether/v1/*.proto under {proto_root}")
    return [os.path.relpath(p, proto_root) for p in tether] + [
        "google/rpc/status.proto"]


def generate(out_dir):
    """Compiles messages and gRPC stubs for every proto into out_dir.

    Raises RuntimeError carrying protoc's stderr if compilation fails.
    """
    proto_root = node_harness.runfile("proto")
    command = [
        DEBIAN_PYTHON, "-m", "grpc_tools.protoc",
        f"-I{proto_root}", f"-I{GRPC_PROTO_ROOT}", f"-I{WELL_KNOWN_ROOT}",
        f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
    ] + _tether_protos(proto_root) + list(_GRPC_PROTOS)
    # Proto names are resolved against the -I roots only: the empty output
    # directory as cwd keeps protoc from matching a same-named local file.
    result = subprocess.run(command, cwd=out_dir, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"protoc failed ({result.returncode}): {' '.join(command)}\n"
            f"{result.stderr}")


def _mount(out_dir):
    """Makes the generated packages importable alongside the real ones.

    `tether` and `google` need only out_dir on sys.path: `tether` exists
    nowhere else, and `google` is a namespace package, whose portions merge
    across sys.path entries (google.protobuf stays Debian's).

    `grpc` is different: the real grpc is a regular package, so Python
    looks up `grpc.health` only in grpc.__path__, and out_dir/grpc on
    sys.path would never be seen (nor could it shadow the real grpc).
    Appending out_dir/grpc to grpc.__path__ makes grpc.health and
    grpc.reflection (which the real grpc lacks; they have no __init__.py,
    so they load as namespace packages) resolve to the generated code,
    while every existing grpc module still resolves first to the real one.
    The generated imports (`from grpc.health.v1 import health_pb2`) then
    work unmodified.
    """
    sys.path.insert(0, out_dir)
    generated_grpc = os.path.join(out_dir, "grpc")
    if generated_grpc not in grpc.__path__:
        grpc.__path__.append(generated_grpc)
    importlib.invalidate_caches()


def load():
    """Generates and imports the stubs once per process; returns them.

    The result has one attribute per module: actor, actor_grpc, identity,
    frame, payload, error, registrar, registrar_grpc, status, health,
    health_grpc, reflection, reflection_grpc.
    """
    global _loaded
    if _loaded is None:
        out_dir = tempfile.mkdtemp(prefix="tether-stubs-")
        atexit.register(shutil.rmtree, out_dir, ignore_errors=True)
        generate(out_dir)
        _mount(out_dir)
        _loaded = types.SimpleNamespace(**{
            attr: importlib.import_module(module)
            for attr, module in _MODULES.items()})
    return _loaded


class _Bearer(grpc.UnaryUnaryClientInterceptor,
              grpc.UnaryStreamClientInterceptor,
              grpc.StreamUnaryClientInterceptor,
              grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer TOKEN` to every call, as docs/security.md
    asks of a client."""

    class _Details(grpc.ClientCallDetails):
        def __init__(self, details, metadata):
            self.method = details.method
            self.timeout = details.timeout
            self.metadata = metadata
            self.credentials = details.credentials
            self.wait_for_ready = getattr(details, "wait_for_ready", None)
            self.compression = getattr(details, "compression", None)

    def __init__(self, token):
        self._header = ("authorization", f"Bearer {token}")

    def _add(self, details):
        return self._Details(details,
                             list(details.metadata or []) + [self._header])

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._add(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._add(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._add(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._add(details), requests)


def channel(address, token=None):
    """An insecure channel to `address` (gRPC target syntax); with `token`
    (64 hex digits) every call carries it.

    Proxies are disabled: the node is always local, and a proxy variable in
    the environment must not reroute the test.
    """
    plain = grpc.insecure_channel(address,
                                  options=[("grpc.enable_http_proxy", 0)])
    if token is None:
        return plain
    return grpc.intercept_channel(plain, _Bearer(token))
