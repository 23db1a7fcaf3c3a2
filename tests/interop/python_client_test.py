#!/usr/bin/python3
"""A plain Python gRPC client against a running actor_node.

Checks that a client in another language, with nothing but the .proto files,
stock gRPC and the tree's token (docs/security.md), can use the node:
Actor/Info, grpc.health.v1.Health/Check and server reflection, over TCP
(port 0) and over a unix socket; without the token, only Health answers.
"""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import node_harness  # noqa: E402
import proto_stubs  # noqa: E402

RPC_TIMEOUT_S = 5.0
UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
EXPECTED_SERVICES = {"tether.v1.Actor", "grpc.health.v1.Health",
                     REFLECTION_SERVICE}
ACTOR_METHODS = {"Context", "Cancel", "Info", "Signal"}


def _reflect(channel, stubs, **request_fields):
    """Sends one ServerReflectionRequest and returns the one response."""
    request = stubs.reflection.ServerReflectionRequest(**request_fields)
    stub = stubs.reflection_grpc.ServerReflectionStub(channel)
    responses = list(stub.ServerReflectionInfo(iter([request]),
                                               timeout=RPC_TIMEOUT_S))
    if len(responses) != 1:
        raise AssertionError(f"expected one reflection response, got "
                             f"{len(responses)}: {responses!r}")
    return responses[0]


class _ClientChecks:
    """The checks, run against a node listening on self.listen()."""

    NAME = None

    def listen(self):
        """The --listen flag value for this transport."""
        raise NotImplementedError

    def expected_address(self, listening_address):
        """Asserts the printed address fits what was asked for."""
        raise NotImplementedError

    def setUp(self):
        self.stubs = proto_stubs.load()
        self.node = self.enterContext(node_harness.NodeProcess(
            [f"--name={self.NAME}", f"--listen={self.listen()}",
             node_harness.token_flag()]))
        self.address = self.node.wait_listening()
        self.expected_address(self.address)
        self.channel = self.enterContext(proto_stubs.channel(
            self.address, token=node_harness.tree_token()))

    def test_info_without_the_token_is_unauthenticated(self):
        import grpc  # Debian's python3-grpcio.
        for token in (None, "0" * 64):
            with proto_stubs.channel(self.address, token=token) as outsider:
                with self.assertRaises(grpc.RpcError) as raised:
                    self.stubs.actor_grpc.ActorStub(outsider).Info(
                        self.stubs.actor.InfoRequest(), timeout=RPC_TIMEOUT_S)
                self.assertEqual(raised.exception.code(),
                                 grpc.StatusCode.UNAUTHENTICATED)
                # Health stays open to probes.
                health = self.stubs.health
                response = self.stubs.health_grpc.HealthStub(outsider).Check(
                    health.HealthCheckRequest(service=""),
                    timeout=RPC_TIMEOUT_S)
                self.assertEqual(health.HealthCheckResponse.ServingStatus.Name(
                    response.status), "SERVING")

    def test_info_identifies_the_node(self):
        actor = self.stubs.actor
        info = self.stubs.actor_grpc.ActorStub(self.channel).Info(
            actor.InfoRequest(), timeout=RPC_TIMEOUT_S)
        self.assertEqual(info.id.name, self.NAME, "id.name must be --name")
        self.assertRegex(info.id.uuid, UUID4,
                         "id.uuid must be a lowercase RFC 4122 v4 UUID")
        self.assertEqual(info.pid, self.node.pid,
                         "pid must be the node process's own pid")
        self.assertIn(self.address, list(info.addresses),
                      "addresses must hold the listening address")

    def test_health_check_serving(self):
        health = self.stubs.health
        response = self.stubs.health_grpc.HealthStub(self.channel).Check(
            health.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT_S)
        self.assertEqual(
            health.HealthCheckResponse.ServingStatus.Name(response.status),
            "SERVING")

    def test_reflection_lists_services(self):
        response = _reflect(self.channel, self.stubs, list_services="")
        self.assertTrue(response.HasField("list_services_response"),
                        f"unexpected reflection response: {response}")
        names = {s.name for s in response.list_services_response.service}
        self.assertLessEqual(EXPECTED_SERVICES, names)

    def test_reflection_describes_actor_service(self):
        response = _reflect(self.channel, self.stubs,
                            file_containing_symbol="tether.v1.Actor")
        self.assertTrue(response.HasField("file_descriptor_response"),
                        f"unexpected reflection response: {response}")
        services = self._services_in(response.file_descriptor_response)
        self.assertIn("tether.v1.Actor", services)
        methods = services["tether.v1.Actor"]
        self.assertLessEqual(ACTOR_METHODS, methods)
        # The node must describe the very contract this test compiled.
        compiled = self.stubs.actor.DESCRIPTOR.services_by_name["Actor"]
        self.assertEqual(methods, {m.name for m in compiled.methods})

    def _services_in(self, file_descriptor_response):
        """Maps full service name -> method names over all returned files."""
        from google.protobuf import descriptor_pb2  # Debian's protobuf.
        services = {}
        for blob in file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
            for service in proto.service:
                services[f"{proto.package}.{service.name}"] = {
                    m.name for m in service.method}
        return services


class TcpClientTest(_ClientChecks, unittest.TestCase):
    """The checks over TCP, on a port the node picks (port 0)."""

    NAME = "py-tcp"

    def listen(self):
        return "127.0.0.1:0"

    def expected_address(self, listening_address):
        host, _, port = listening_address.rpartition(":")
        self.assertEqual(host, "127.0.0.1")
        self.assertTrue(port.isdigit() and 0 < int(port) < 65536,
                        f"listening line must give the real port: "
                        f"{listening_address!r}")


class UnixClientTest(_ClientChecks, unittest.TestCase):
    """The checks over a unix socket in a fresh directory."""

    NAME = "py-unix"

    def listen(self):
        directory = self.enterContext(node_harness.socket_dir())
        self.socket_path = os.path.join(directory, "node.sock")
        return f"unix:{self.socket_path}"

    def expected_address(self, listening_address):
        self.assertEqual(listening_address, f"unix:{self.socket_path}")


if __name__ == "__main__":
    node_harness.run_tests()
