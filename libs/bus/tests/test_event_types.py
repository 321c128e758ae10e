"""Which protobuf classes a consumer decodes events with."""

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from icc_bus import EventTypes, PoisonMessage, messages_of


def test_messages_of_a_generated_file_are_every_message_it_declares() -> None:
    assert messages_of(timestamp_pb2) == (timestamp_pb2.Timestamp,)
    types = EventTypes([*messages_of(timestamp_pb2), *messages_of(duration_pb2)])
    payload = timestamp_pb2.Timestamp(seconds=7).SerializeToString()
    assert types.decode("google.protobuf.Timestamp", payload) == timestamp_pb2.Timestamp(seconds=7)
    with pytest.raises(PoisonMessage):
        types.decode("google.protobuf.Empty", b"")
