"""Page tokens and watch cursors of the incidents service: they continue where the last
page ended, and anything else a caller sends in their place is INVALID_ARGUMENT naming
the field, never an internal error."""

import base64
import json

import grpc
import pytest

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc_rpc.errors import field_violations

from .conftest import Service
from .test_api import T, create


def _forged(payload: object) -> str:
    """A token as the service made them before they were signed: base64 JSON."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def _refused(call: object, field: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        if hasattr(call, "read"):
            await call.read()
        else:
            await call  # type: ignore[misc]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert [v.field for v in field_violations(err.value)] == [field]
    return err.value.details() or ""


async def test_chronology_pages_follow_on_and_refuse_any_other_token(service: Service) -> None:
    first = await create(service)
    other = await create(service)
    for n in range(4):
        await service.stub.AddNote(pb.AddNoteRequest(parent=first.name, text=f"n{n}"), timeout=T)
    sequences, token = [], ""
    while True:
        request = pb.ListChronologyRequest(parent=first.name, page_size=2, page_token=token)
        page = await service.stub.ListChronology(request, timeout=T)
        sequences.extend(e.sequence for e in page.entries)
        if not (token := page.next_page_token):
            break
        last = token
    assert sequences == [1, 2, 3, 4, 5]

    incident_id = first.name.partition("/")[2]
    for bad in [
        _forged({"i": incident_id, "s": 10**30}),  # a sequence no database holds
        _forged({"i": incident_id, "s": True}),
        _forged({"i": incident_id, "s": 2}),
        "not-a-token",
        last[:-3] + "AAA",  # its signature changed
        last.replace(".", "x."),
        "x" * 100_000,
    ]:
        call = service.stub.ListChronology(
            pb.ListChronologyRequest(parent=first.name, page_token=bad), timeout=T
        )
        await _refused(call, "page_token")
    # A token continues the listing it came from, not another incident's.
    call = service.stub.ListChronology(
        pb.ListChronologyRequest(parent=other.name, page_token=last), timeout=T
    )
    assert "another parent" in await _refused(call, "page_token")


async def test_incident_pages_are_bound_to_their_filters_and_their_rpc(service: Service) -> None:
    for _ in range(3):
        await create(service)
    first = await service.stub.ListIncidents(pb.ListIncidentsRequest(page_size=1), timeout=T)
    assert first.next_page_token
    moved = pb.ListIncidentsRequest(
        page_size=1, page_token=first.next_page_token, agency=common_pb2.AGENCY_FIRE
    )
    assert "other filters" in await _refused(
        service.stub.ListIncidents(moved, timeout=T), "page_token"
    )
    parent = first.incidents[0].name
    await service.stub.AddNote(pb.AddNoteRequest(parent=parent, text="n"), timeout=T)
    chronology = await service.stub.ListChronology(
        pb.ListChronologyRequest(parent=parent, page_size=1), timeout=T
    )
    swapped = pb.ListIncidentsRequest(page_size=1, page_token=chronology.next_page_token)
    details = await _refused(service.stub.ListIncidents(swapped, timeout=T), "page_token")
    assert "ListChronology" in details


async def test_a_watch_cursor_is_refused_unless_the_service_made_it(service: Service) -> None:
    for bad in ["²", "0", "7", "-1", "99999999999999999999", _forged([1, "WatchIncidents", "", 3])]:
        stream = service.stub.WatchIncidents(pb.WatchIncidentsRequest(cursor=bad), timeout=T)
        details = await _refused(stream, "cursor")
        assert "Error" not in details  # a sentence, not an exception's name
    await create(service)
    await create(service)
    listed = await service.stub.ListIncidents(pb.ListIncidentsRequest(page_size=1), timeout=T)
    stream = service.stub.WatchIncidents(
        pb.WatchIncidentsRequest(cursor=listed.next_page_token), timeout=T
    )
    assert "not of WatchIncidents" in await _refused(stream, "cursor")
