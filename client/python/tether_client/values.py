"""Payloads (tether.v1.Payload) to and from Python values.

Two forms, as in docs/protocol.md §6:

  - JSON-shaped values: None, bool, int, float, str, lists (or tuples) and
    dicts with str keys travel as google.protobuf.Value (`Payload.json`).
    JSON numbers are doubles: 3 comes back as 3.0.
  - Typed protobuf messages travel as bytes plus a type_url. Any protobuf
    message is sent as itself (type_url "type.googleapis.com/<full name>");
    a google.protobuf.Any is sent as the message it holds. Received typed
    payloads come back as google.protobuf.Any; unpack them with
    `any.Unpack(message)` or check `any.Is(Message.DESCRIPTOR)`.
"""

import math

from google.protobuf import any_pb2
from google.protobuf import message as message_lib
from google.protobuf import struct_pb2

from tether_client import _proto

TYPE_URL_PREFIX = "type.googleapis.com/"


def to_value(obj):
    """A google.protobuf.Value for a JSON-shaped Python value.

    Raises TypeError for anything else (sets, bytes, non-str keys, ...) and
    ValueError for NaN or infinities, which JSON cannot hold.
    """
    value = struct_pb2.Value()
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, (int, float)):
        if not math.isfinite(obj):
            raise ValueError(f"JSON numbers are finite, got {obj!r}")
        value.number_value = obj
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, (list, tuple)):
        value.list_value.values.extend(to_value(item) for item in obj)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys are strings, got {key!r}")
            value.struct_value.fields[key].CopyFrom(to_value(item))
    else:
        raise TypeError(f"not a JSON-shaped value: {type(obj).__name__}")
    return value


def from_value(value):
    """The Python value of a google.protobuf.Value (numbers are floats)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    if kind == "struct_value":
        return {key: from_value(item)
                for key, item in value.struct_value.fields.items()}
    return getattr(value, kind)


def to_payload(obj):
    """A tether.v1.Payload for `obj`: typed for protobuf messages (the
    type_url always set), JSON for everything else."""
    Payload = _proto.payload_pb2.Payload
    if isinstance(obj, any_pb2.Any):
        return Payload(message=obj.value, type_url=obj.type_url)
    if isinstance(obj, message_lib.Message):
        return Payload(message=obj.SerializeToString(),
                       type_url=TYPE_URL_PREFIX + obj.DESCRIPTOR.full_name)
    return Payload(json=to_value(obj))


def from_payload(payload, inherited_type_url=""):
    """The Python value of a Payload: the JSON value, or an Any holding a
    typed message. `inherited_type_url` is the type a Yield batch's earlier
    payload set (the batch rule); a typed payload without either raises
    ValueError."""
    if payload.WhichOneof("kind") == "message":
        type_url = payload.type_url or inherited_type_url
        if not type_url:
            raise ValueError("a message payload without type_url")
        return any_pb2.Any(type_url=type_url, value=payload.message)
    return from_value(payload.json)


def from_batch(payloads):
    """The values of one Yield batch, in order, applying the batch rule
    (an empty type_url inherits the nearest preceding one)."""
    values = []
    type_url = ""
    for payload in payloads:
        values.append(from_payload(payload, type_url))
        if payload.type_url:
            type_url = payload.type_url
    return values
