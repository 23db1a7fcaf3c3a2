"""tether_client: a Python opener for Tether actors.

Talks to any Tether actor over gRPC (tether.v1, docs/protocol.md): run plain
functions, open contexts with tractor's rules, look actors up by name in a
registrar. Values are JSON-shaped Python objects or protobuf messages
(tether_client.values); errors are exceptions carrying the remote
ErrorInfo (tether_client.errors).

    import tether_client

    with tether_client.connect("127.0.0.1:7000") as actor:
        print(actor.run("echo", {"hello": "world"}))
        with actor.open_context("counter", {"n": 3}) as ctx:
            with ctx.open_stream() as stream:
                print(ctx.started, list(stream))    # 0.0 [1.0, 2.0, 3.0]
        print(ctx.result())                          # 3.0
"""

from tether_client.actor import Actor
from tether_client.actor import Registrar
from tether_client.actor import connect
from tether_client.actor import new_identity
from tether_client.context import Context
from tether_client.context import MsgStream
from tether_client.context import StreamClosed
from tether_client.credentials import CredentialsError
from tether_client.credentials import Unauthenticated
from tether_client.errors import ActorId
from tether_client.errors import ContextCancelled
from tether_client.errors import EndOfStream
from tether_client.errors import ProtocolError
from tether_client.errors import RemoteActorError
from tether_client.errors import StreamOverrun
from tether_client.errors import TetherError
from tether_client.errors import TransportClosed

__all__ = [
    "Actor", "ActorId", "Context", "ContextCancelled", "CredentialsError",
    "EndOfStream",
    "MsgStream", "ProtocolError", "Registrar", "RemoteActorError",
    "StreamClosed", "StreamOverrun", "TetherError", "TransportClosed",
    "Unauthenticated",
    "connect", "new_identity",
]
