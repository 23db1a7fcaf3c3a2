"""Tether errors as Python exceptions.

Every error that crosses a process boundary travels as a tether.v1.ErrorInfo
(proto/tether/v1/error.proto); this module turns one into the exception a
Python opener raises, with the same fields the C++ runtime keeps
(tether/errors.h):

    TetherError                   any Tether error; fields of ErrorInfo
      RemoteActorError            raised in another actor (boxed_type ...)
        ContextCancelled          ERROR_KIND_CONTEXT_CANCELLED (canceller)
        StreamOverrun             ERROR_KIND_STREAM_OVERRUN (sender)
        ProtocolError             ERROR_KIND_PROTOCOL
      TransportClosed             the link broke; no remote source

    try:
        actor.run("fail", {"type": "ValueError", "message": "boom"})
    except tether_client.RemoteActorError as err:
        err.boxed_type, err.message, err.source, err.relay_path

EndOfStream is not an error: MsgStream.receive() raises it once the peer
stopped and every value it sent was received.
"""

import traceback
import typing

from tether_client import _proto

ErrorKind = _proto.error_pb2.ErrorKind

# ErrorInfo.type of the runtime's own errors (tether/errors.h).
CONTEXT_CANCELLED_TYPE = "tether.ContextCancelled"
STREAM_OVERRUN_TYPE = "tether.StreamOverrun"
PROTOCOL_ERROR_TYPE = "tether.ProtocolError"
TRANSPORT_CLOSED_TYPE = "tether.TransportClosed"


class ActorId(typing.NamedTuple):
    """An actor's identity: a name (not unique) and a v4 uuid (unique)."""

    name: str
    uuid: str

    @classmethod
    def from_proto(cls, message):
        return cls(message.name, message.uuid)

    def to_proto(self):
        return _proto.identity_pb2.ActorId(name=self.name, uuid=self.uuid)

    def __str__(self):
        return f"{self.name}[{self.uuid[:8]}]"


def _actor_or_none(message, has_field):
    return ActorId.from_proto(message) if has_field else None


class EndOfStream(Exception):
    """The peer stopped and every value it sent was received."""


class TetherError(Exception):
    """A Tether error: the fields of one tether.v1.ErrorInfo.

    `info` keeps the ErrorInfo as received. `source`, `canceller` and
    `sender` are ActorIds or None; `relay_path` lists ActorIds, source
    first; `errors` holds the members of a group as TetherErrors.
    """

    def __init__(self, info):
        self.info = info
        self.kind = info.kind
        self.boxed_type = info.type
        self.message = info.message
        self.source = _actor_or_none(info.source, info.HasField("source"))
        self.relay_path = [ActorId.from_proto(a) for a in info.relay_path]
        self.trace = info.trace
        self.canceller = _actor_or_none(info.canceller,
                                        info.HasField("canceller"))
        self.sender = _actor_or_none(info.sender, info.HasField("sender"))
        self.errors = [from_error_info(member) for member in info.errors]
        self.function = info.function
        self.context_id = info.context_id
        super().__init__(self.headline())

    @property
    def kind_name(self):
        """The ErrorKind's name, e.g. "ERROR_KIND_APPLICATION"."""
        return ErrorKind.Name(self.kind)

    @property
    def source_uid(self):
        """The source actor's uuid, or "" when the error has no source."""
        return self.source.uuid if self.source else ""

    def headline(self):
        """One line: "<type>: <message>" for application errors, as the
        status message the C++ runtime sends, else the message."""
        if self.kind == ErrorKind.ERROR_KIND_APPLICATION:
            return f"{self.boxed_type}: {self.message}"
        return self.message or self.boxed_type

    def describe(self):
        """Several lines, like tether::DescribeError in C++: the headline,
        then source, relay path (newest first, arrows pointing the way the
        error travelled), function, context, canceller, sender, trace and
        group members."""
        lines = [self.headline()]
        if self.source:
            lines.append(f"  source: {self.source}")
        if self.relay_path:
            lines.append("  relay path: " + " <- ".join(
                str(a) for a in reversed(self.relay_path)))
        for label, value in (("function", self.function),
                             ("context", self.context_id),
                             ("canceller", self.canceller),
                             ("sender", self.sender)):
            if value:
                lines.append(f"  {label}: {value}")
        if self.trace:
            lines.append("  trace:")
            lines.extend("    " + l for l in self.trace.splitlines())
        for number, member in enumerate(self.errors, 1):
            member_lines = member.describe().splitlines()
            lines.append(f"  {number}. {member_lines[0]}")
            lines.extend("    " + l for l in member_lines[1:])
        return "\n".join(lines)


class RemoteActorError(TetherError):
    """An error raised in another actor and relayed here, boxed: the
    original type survives only as `boxed_type` (e.g. "ValueError",
    "std::runtime_error")."""


class ContextCancelled(RemoteActorError):
    """The callee's task was cancelled; `canceller` names who asked (None
    when nobody did)."""


class StreamOverrun(RemoteActorError):
    """A receive buffer overflowed; `sender` names whose data overran it."""


class ProtocolError(RemoteActorError):
    """A side broke the per-context state machine (docs/protocol.md §2)."""


class TransportClosed(TetherError):
    """The link to the peer broke before the context ended."""


_CLASS_BY_KIND = {
    ErrorKind.ERROR_KIND_CONTEXT_CANCELLED: ContextCancelled,
    ErrorKind.ERROR_KIND_STREAM_OVERRUN: StreamOverrun,
    ErrorKind.ERROR_KIND_PROTOCOL: ProtocolError,
    ErrorKind.ERROR_KIND_TRANSPORT_CLOSED: TransportClosed,
}


def from_error_info(info):
    """The exception for a tether.v1.ErrorInfo."""
    return _CLASS_BY_KIND.get(info.kind, RemoteActorError)(info)


def make_info(kind, type_name, message, source=None, **fields):
    """A tether.v1.ErrorInfo raised at `source` (an ActorId or None): the
    relay path starts with it. Other ErrorInfo fields go in `fields`, with
    ActorIds for canceller and sender."""
    info = _proto.error_pb2.ErrorInfo(kind=kind, type=type_name,
                                      message=message)
    if source is not None:
        info.source.CopyFrom(source.to_proto())
        info.relay_path.add().CopyFrom(source.to_proto())
    for name, value in fields.items():
        if isinstance(value, ActorId):
            getattr(info, name).CopyFrom(value.to_proto())
        else:
            setattr(info, name, value)
    return info


def box_exception(exc, source):
    """An APPLICATION ErrorInfo for a Python exception raised at `source`:
    type is the class name ("ValueError", or "module.Class" outside
    builtins), message str(exc), trace the formatted traceback."""
    cls = type(exc)
    type_name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        type_name = f"{cls.__module__}.{type_name}"
    trace = "".join(traceback.format_exception(cls, exc, exc.__traceback__))
    return make_info(ErrorKind.ERROR_KIND_APPLICATION, type_name, str(exc),
                     source, trace=trace)


def transport_closed(message, context_id=""):
    """TransportClosed observed here: no source, as in C++."""
    return TransportClosed(make_info(
        ErrorKind.ERROR_KIND_TRANSPORT_CLOSED, TRANSPORT_CLOSED_TYPE,
        message, context_id=context_id))
