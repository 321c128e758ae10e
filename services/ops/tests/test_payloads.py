"""A dead letter's payload read as the event its type names."""

import pytest

from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc_kernel.errors import InvalidInput
from icc_ops.api import sequence_of
from icc_ops.payloads import Undecodable, decode


def test_any_event_of_the_contract_decodes_by_its_full_name() -> None:
    event = dispatch_events.UnitsAssigned(automatic=True)
    event.assignments.add(incident="incidents/abc", call_sign="CC115-A1")
    decoded = decode(event.DESCRIPTOR.full_name, event.SerializeToString())
    assert decoded == {
        "assignments": [{"incident": "incidents/abc", "call_sign": "CC115-A1"}],
        "automatic": True,
    }


def test_an_unknown_type_or_a_payload_of_another_shape_says_so() -> None:
    with pytest.raises(Undecodable, match=r"unknown event type 'icc\.nope\.v1\.Gone'"):
        decode("icc.nope.v1.Gone", b"")
    with pytest.raises(Undecodable, match=r"not a icc\.incident\.v1\.Incident"):
        decode(incident_pb2.Incident.DESCRIPTOR.full_name, b"\xff\xfe")


@pytest.mark.parametrize("name", ["deadLetters/0", "deadLetters/x", "", "-3"])
def test_a_dead_letters_name_is_a_positive_sequence(name: str) -> None:
    with pytest.raises(InvalidInput):
        sequence_of(name)
    assert sequence_of("deadLetters/42") == sequence_of("42") == 42
