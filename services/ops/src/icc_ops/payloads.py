"""A dead letter's payload read as the protobuf event its `Icc-Event-Type` header names.

Every event of the contract (`icc.*.v1.events`) is in protobuf's default pool once its
module is imported; the message is found there by its full name, so a new event type
needs nothing here.
"""

from typing import Any

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError

# Imported for their effect: the contract's events in the default pool.
from icc.dispatch.v1 import events_pb2 as _dispatch_events  # noqa: F401
from icc.incident.v1 import events_pb2 as _incident_events  # noqa: F401
from icc.resource.v1 import events_pb2 as _resource_events  # noqa: F401


class Undecodable(Exception):
    """The type is unknown, or the payload is not that type; the message says which."""


def decode(event_type: str, payload: bytes) -> dict[str, Any]:
    """The event in protobuf's JSON mapping (field names as in the .proto)."""
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
    except KeyError:
        raise Undecodable(f"unknown event type {event_type!r}") from None
    message = message_factory.GetMessageClass(descriptor)()
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise Undecodable(f"not a {event_type}: {exc}") from None
    decoded: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return decoded
