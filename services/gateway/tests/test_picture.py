"""The picture's rules, pure: newest version wins, closed incidents leave, the ring
replays exactly what was missed, positions are coalesced, slow screens are dropped."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icc_gateway.domain.model import Hospital, Incident, IncidentAssignment, Removed, Unit
from icc_gateway.domain.picture import Picture, PositionThrottle
from icc_gateway.stream import Hub


def incident(incident_id: str = "i1", *, state: str = "NEW", **extra: Any) -> Incident:
    return Incident(
        **{
            "id": incident_id,
            "type_code": "FIRE.RUBBISH",
            "priority": 3,
            "state": state,
            "lat": 10.77,
            "lon": 106.70,
            "address": "",
            "ward": "Sài Gòn",
            "agencies": ["FIRE"],
            "description": "",
            "exercise": False,
            "create_time": "2026-11-25T01:00:00.000Z",
            "first_dispatch_time": None,
            "first_on_scene_time": None,
            "close_time": None,
            "etag": 'W/"1"',
            "assignments": [],
            **extra,
        }
    )


def assignment(
    state: str, kind: str | None = None, assign_time: str | None = None
) -> IncidentAssignment:
    return IncidentAssignment(
        **{
            "id": "a1",
            "unit": "u1",
            "call_sign": "E1",
            "agency": "FIRE",
            "kind": kind,
            "state": state,
            "assign_time": assign_time,
        }
    )


def unit_json(unit_id: str = "u1", status: str = "AVAILABLE", lat: float | None = 10.7) -> Any:
    return {
        "id": unit_id,
        "call_sign": "E1",
        "agency": "FIRE",
        "kind": "ENGINE",
        "status": status,
        "lat": lat,
        "lon": None if lat is None else 106.7,
        "station": "s1",
        "incident": None,
        "update_time": None,
        "position_time": None,
    }


def unit(unit_id: str = "u1", status: str = "AVAILABLE", lat: float | None = 10.7) -> Unit:
    return Unit(**unit_json(unit_id, status, lat))


def hospital(hospital_id: str, beds: int) -> Hospital:
    return Hospital(
        id=hospital_id,
        name_vi="",
        name_en="",
        lat=0.0,
        lon=0.0,
        diversion=None,
        beds_available=beds,
    )


def test_the_newest_version_wins_whatever_the_order() -> None:
    picture = Picture(cursor=100)
    assert picture.put_incident(incident(etag='W/"2"'), (2, 0), True) is not None
    assert picture.put_incident(incident(etag='W/"1"'), (1, 0), True) is None  # late
    assert picture.put_incident(incident(etag='W/"2"'), (2, 0), True) is None  # again
    assert picture.incidents["i1"].etag == 'W/"2"'
    assert picture.cursor == 101

    closed = picture.put_incident(incident(state="CLOSED"), (3, 0), False)
    assert closed is not None and closed.op == "remove" and closed.item == Removed(id="i1")
    # A late event of the closed incident does not bring it back.
    assert picture.put_incident(incident(etag='W/"2"'), (2, 0), True) is None
    assert picture.incidents == {}
    assert json.loads(closed.data) == {"kind": "incident", "op": "remove", "item": {"id": "i1"}}


def test_assignments_merge_by_latest_state_and_take_the_units_kind() -> None:
    picture = Picture()
    picture.put_unit(unit(), (1, 0), 1)
    picture.put_incident(incident(), (1, 0), True)
    # Dispatch's news first (with the kind), then the incident's older copy: no step back.
    change = picture.put_assignments("i1", [assignment("ACKNOWLEDGED", "ENGINE", "t1")])
    assert change is not None
    older = incident(etag='W/"2"', assignments=[assignment("ASSIGNED", None, "t1")])
    picture.put_incident(older, (2, 0), True)
    assert picture.incidents["i1"].assignments == [assignment("ACKNOWLEDGED", "ENGINE", "t1")]
    # The incident's copy has no kind: the picture's unit gives it.
    picture.put_incident(
        incident(
            etag='W/"3"', assignments=[assignment("RELEASED").model_copy(update={"id": "a2"})]
        ),
        (3, 0),
        True,
    )
    kinds = {a.id: a.kind for a in picture.incidents["i1"].assignments}
    assert kinds == {"a1": "ENGINE", "a2": "ENGINE"}
    # Nothing new: no change.
    assert picture.put_assignments("i1", [assignment("ACKNOWLEDGED", "ENGINE", "t1")]) is None
    # About an incident not in the picture: ignored (its own event brings it).
    assert picture.put_assignments("elsewhere", [assignment("ASSIGNED")]) is None


def test_status_events_keep_the_newer_position() -> None:
    picture = Picture()
    picture.put_unit(unit(lat=10.70), (1, 0), 1_000)
    moved = picture.move_unit("u1", 10.71, 106.7, 2_000)
    assert moved is not None and isinstance(moved.item, Unit) and moved.item.lat == 10.71
    assert picture.move_unit("u1", 10.60, 106.7, 1_500) is None  # older report
    # A status event carries no position: the one shown stays.
    change = picture.put_unit(unit(status="DISPATCHED", lat=None), (2, 0), None)
    assert change is not None and isinstance(change.item, Unit) and change.item.lat == 10.71
    # A snapshot with an older position does not move it back either.
    picture.put_unit(unit(status="EN_ROUTE", lat=10.50), (3, 0), 1_800)
    taken = "1970-01-01T00:00:00.002Z"
    assert picture.unit("u1") == unit(status="EN_ROUTE", lat=10.71).model_copy(
        update={"position_time": taken}
    )
    assert picture.move_unit("unknown", 1.0, 2.0, 5_000) is None


def test_a_unit_reporting_without_moving_is_sent_again_now_and_then() -> None:
    picture = Picture(position_refresh_s=15)
    picture.put_unit(unit(lat=10.70), (1, 0), 1_000_000)
    # The same place a few seconds later: nothing for screens.
    assert picture.move_unit("u1", 10.70, 106.7, 5_000_000) is None
    # Still there 15 s after the position screens have: sent, so they see it is fresh.
    again = picture.move_unit("u1", 10.70, 106.7, 16_000_000)
    assert again is not None and isinstance(again.item, Unit)
    assert again.item.position_time == "1970-01-01T00:00:16.000Z"
    assert picture.move_unit("u1", 10.70, 106.7, 17_000_000) is None


def test_a_resync_removes_only_incidents_missed_before_it_began() -> None:
    picture = Picture()
    picture.put_incident(incident("old"), (1, 0), True)
    started = picture.cursor
    picture.put_incident(incident("new"), (1, 0), True)  # seen after the list was taken
    removed = picture.remove_missing_incidents(set(), started)
    assert [c.item for c in removed] == [Removed(id="old")]
    assert set(picture.incidents) == {"new"}


def test_changes_after() -> None:
    picture = Picture(ring_size=5, cursor=10)
    assert picture.changes_after(10) == []
    assert picture.changes_after(9) is None  # before anything this picture recorded
    for n in range(8):
        picture.put_hospital(hospital("h1", n), (n + 1, 0))
    assert picture.cursor == 18
    assert [c.cursor for c in picture.changes_after(15) or []] == [16, 17, 18]
    assert [c.cursor for c in picture.changes_after(13) or []] == [14, 15, 16, 17, 18]
    assert picture.changes_after(12) is None  # 13 fell out of the ring
    assert picture.changes_after(19) is None  # from the future: another gateway's


@given(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=20))
def test_the_ring_replays_every_change_after_any_cursor(changes: int, ring: int) -> None:
    picture = Picture(ring_size=ring, cursor=1000)
    for n in range(changes):
        picture.put_hospital(hospital(f"h{n % 3}", n), (n + 1, 0))
    for last in range(990, picture.cursor + 3):
        replay = picture.changes_after(last)
        if replay is None:
            assert last < picture.cursor - ring or last > picture.cursor or last < 1000
        else:
            assert [c.cursor for c in replay] == list(range(last + 1, picture.cursor + 1))


def test_positions_are_coalesced_per_unit() -> None:
    throttle = PositionThrottle(1.0)
    assert throttle.offer("u1", 1.0, 1.0, 10, now=0.0) == (1.0, 1.0, 10)
    assert throttle.offer("u2", 2.0, 2.0, 10, now=0.1) == (2.0, 2.0, 10)  # each unit its own
    assert throttle.offer("u1", 1.1, 1.0, 11, now=0.2) is None
    assert throttle.offer("u1", 1.2, 1.0, 12, now=0.5) is None
    assert throttle.offer("u1", 1.05, 1.0, 9, now=0.6) is None  # older: the latest stays
    assert throttle.due(0.9) == []
    assert throttle.due(1.0) == [("u1", 1.2, 1.0, 12)]
    assert throttle.held == 0
    assert throttle.offer("u1", 1.3, 1.0, 13, now=1.5) is None  # 0.5 s after the last
    assert throttle.due(2.0) == [("u1", 1.3, 1.0, 13)]
    assert throttle.offer("u1", 1.4, 1.0, 14, now=3.5) == (1.4, 1.0, 14)  # quiet: at once


async def test_a_screen_too_far_behind_is_dropped() -> None:
    picture = Picture(cursor=0)
    hub = Hub(picture, queue_size=2)
    slow, first = hub.connect(None)
    assert first.startswith(b"id: 0\nevent: snapshot\ndata: ")
    fast, _ = hub.connect(None)
    frames = hub.frames(fast, b"")
    assert await anext(frames) == b"retry: 2000\n\n"
    for n in range(3):
        change = picture.put_hospital(hospital("h", n), (n + 1, 0))
        assert change is not None
        hub.publish(change)
        if n < 2:
            got = await asyncio.wait_for(anext(frames), 1)
            assert (
                got
                == b'id: %d\nevent: change\ndata: {"kind":"hospital","op":"upsert","item":{"id":"h","name_vi":"","name_en":"","lat":0.0,"lon":0.0,"diversion":null,"beds_available":%d}}\n\n'
                % (n + 1, n)
            )
    assert slow.dropped and not fast.dropped
    assert hub.screens == 1 and hub.dropped_total == 1
    # The dropped screen's stream ends; it reconnects from its last id.
    assert [f async for f in hub.frames(slow, b"")] == []
    again, replay = hub.connect(0)
    assert replay.count(b"event: change") == 3
    hub.close()
    assert [f async for f in hub.frames(again, b"")] == []


def test_snapshot_json_is_the_picture_with_the_time() -> None:
    picture = Picture(cursor=7)
    picture.put_unit(unit(), (1, 0), 1)
    hub = Hub(picture)
    snapshot = json.loads(hub.snapshot_json())
    sent = datetime.fromisoformat(snapshot.pop("server_time"))
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 5
    assert snapshot == {"cursor": 8, "incidents": [], "units": [unit_json()], "hospitals": []}
    frame = hub.snapshot_frame()
    assert frame.startswith(b"id: 8\nevent: snapshot\ndata: {") and frame.endswith(b"}\n\n")


@pytest.mark.parametrize(
    ("etag", "version"), [('W/"12"', 12), ('"3"', 3), ("7", 7), ("", 0), ("junk", 0)]
)
def test_etag_versions(etag: str, version: int) -> None:
    from icc_gateway.convert import etag_version

    assert etag_version(etag) == version
