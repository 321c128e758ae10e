"""The response-time KPIs: pure, with a hand-built hour of incidents and exact answers; then
`GET /api/v1/kpis` through the real gateway and services."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from icc_gateway import main as gateway_main
from icc_gateway.config import Config
from icc_gateway.domain.kpi_model import Kpis
from icc_gateway.domain.kpis import KpiSettings, ResponseWindow, seconds
from icc_gateway.domain.model import Incident, Unit
from icc_gateway.domain.picture import Picture
from icc_kernel.settings import SettingError
from icc_kernel.stats import percentile

from .conftest import Gateway, Services, eventually, gateway_config, incident_body

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
NOW = T0.timestamp() + 3000


def at(offset_s: float | None) -> str | None:
    if offset_s is None:
        return None
    moment = T0 + timedelta(seconds=offset_s)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def incident(
    incident_id: str,
    agency: str,
    priority: int,
    created: float,
    dispatch: float | None = None,
    scene: float | None = None,
    *,
    state: str = "NEW",
    exercise: bool = False,
    assignments: list[dict[str, Any]] | None = None,
) -> Incident:
    """The picture form of an incident; `dispatch` and `scene`: seconds after the call."""
    return Incident(
        **{
            "id": incident_id,
            "type_code": f"{agency}.TEST",
            "priority": priority,
            "state": state,
            "lat": 10.77,
            "lon": 106.70,
            "address": "",
            "ward": "Sài Gòn",
            "agencies": [agency, "POLICE"] if agency != "POLICE" else [agency],
            "description": "",
            "exercise": exercise,
            "create_time": at(created),
            "first_dispatch_time": at(None if dispatch is None else created + dispatch),
            "first_on_scene_time": at(None if scene is None else created + scene),
            "close_time": None,
            "etag": 'W/"1"',
            "assignments": assignments or [],
        }
    )


ASSIGNED = {
    "id": "a1",
    "unit": "u1",
    "call_sign": "E1",
    "agency": "FIRE",
    "kind": "ENGINE",
    "state": "ASSIGNED",
    "assign_time": at(2501),
}

# Fifty minutes of a city (offsets from T0 in seconds; "now" is T0 + 3000 s).
HOUR = [
    incident("f1", "FIRE", 1, 0, 10, 300, state="CLOSED"),  # P1 reached (300 <= 600)
    incident("f2", "FIRE", 1, 100, 30, 700, state="ON_SCENE"),  # P1 missed (700)
    incident("f3", "FIRE", 1, 2900, 20, state="DISPATCHED"),  # P1 pending (100 s old)
    incident("f4", "FIRE", 1, 1000, 5, state="DISPATCHED"),  # P1 missed: 2000 s, none there
    incident("m1", "MEDICAL", 1, 500, 5, 400, state="CLOSED"),  # P1 reached (400 <= 480)
    incident("m2", "MEDICAL", 1, 600, state="CANCELLED"),  # withdrawn: not judged
    incident("m3", "MEDICAL", 2, 700, 20, 300, state="ON_SCENE"),
    incident("p1", "POLICE", 3, 800),  # P3 waiting for a dispatcher's decision: 2200 s
    incident("x1", "POLICE", 1, 900, 60, 500, state="CLOSED", exercise=True),  # a drill
    incident("d1", "MEDICAL", 1, 2000, state="MERGED"),  # a duplicate call
    incident("w1", "FIRE", 2, 2800),  # waiting for units: 200 s
    incident("w2", "MEDICAL", 1, 2970),  # 30 s old: not waiting yet
    incident("w3", "FIRE", 1, 2500, assignments=[ASSIGNED]),  # dispatch's news came first
    incident("w4", "FIRE", 1, 2000, exercise=True),  # a drill waiting 1000 s
    incident("old", "FIRE", 1, -1000, 10, 100, state="CLOSED"),  # before the window
]


def unit(unit_id: str, agency: str, status: str) -> Unit:
    return Unit(
        id=unit_id,
        call_sign=unit_id.upper(),
        agency=agency,
        kind=None,
        status=status,
        lat=None,
        lon=None,
        station=None,
        incident=None,
        update_time=None,
    )


UNITS = [
    unit("u1", "FIRE", "AVAILABLE"),
    unit("u2", "FIRE", "EN_ROUTE"),
    unit("u3", "FIRE", "OUT_OF_SERVICE"),
    unit("u4", "MEDICAL", "ON_SCENE"),
    unit("u5", "MEDICAL", "AT_HOSPITAL"),
    unit("u6", "POLICE", "AVAILABLE"),
]


def kpis_of(exercise: Any = "include") -> dict[str, Any]:
    window = ResponseWindow(KpiSettings(window_s=3600))
    for item in HOUR:
        window.observe(item)
    open_ones = [i for i in HOUR if i.state in ("NEW", "DISPATCHED", "EN_ROUTE", "ON_SCENE")]
    found = window.compute(NOW, open_ones, UNITS, exercise)
    # The API's schema, at the time it was computed for.
    assert found.server_time == at(3000)
    return Kpis.model_validate(found.model_dump()).model_dump(mode="json")


def spread(n: int, p50: float | None, p90: float | None, pending: int) -> dict[str, Any]:
    return {"n": n, "p50_s": p50, "p90_s": p90, "pending": pending}


def test_nearest_rank_percentiles_are_observed_values() -> None:
    assert percentile([5, 5, 10, 20, 20, 30, 60], 50) == 20
    assert percentile([5, 5, 10, 20, 20, 30, 60], 90) == 60
    assert percentile([300, 700], 50) == 300
    assert percentile([7.5], 90) == 7.5
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    assert seconds("2026-11-25T01:00:10.250Z") == T0.timestamp() + 10.25
    assert seconds(None) is None


def test_calls_and_response_times_of_the_hour() -> None:
    k = kpis_of()
    assert k["window_s"] == 3600 and k["exercise"] == "include"
    assert k["calls"] == {
        "total": 14,
        "exercise": 2,
        "open": 9,
        "by_agency": {"POLICE": 2, "FIRE": 7, "MEDICAL": 5},
        "by_priority": {"1": 11, "2": 2, "3": 1, "4": 0},
    }
    # The merged duplicate is a call but not a response; the cancelled one never got a
    # unit and no longer waits for one.
    assert k["call_to_dispatch"] == {
        "all": spread(7, 20, 60, 5),
        "by_agency": {
            "POLICE": spread(1, 60, 60, 1),
            "FIRE": spread(4, 10, 30, 3),
            "MEDICAL": spread(2, 5, 20, 1),
        },
        "by_priority": {
            "1": spread(6, 10, 60, 3),
            "2": spread(1, 20, 20, 1),
            "3": spread(0, None, None, 1),
            "4": spread(0, None, None, 0),
        },
    }
    scene = k["call_to_on_scene"]
    assert scene["all"] == spread(5, 400, 700, 7)
    assert scene["by_agency"] == {
        "POLICE": spread(1, 500, 500, 1),
        "FIRE": spread(2, 300, 700, 5),
        "MEDICAL": spread(2, 300, 400, 1),
    }
    assert scene["by_priority"]["1"] == spread(4, 400, 700, 5)


def test_p1_within_target_waiting_and_units() -> None:
    k = kpis_of()
    assert k["p1_within_target"] == {
        "MEDICAL": {"target_s": 480, "reached": 1, "missed": 0, "pending": 1, "share": 1.0},
        "FIRE": {"target_s": 600, "reached": 1, "missed": 3, "pending": 2, "share": 0.25},
        "POLICE": {"target_s": 600, "reached": 1, "missed": 0, "pending": 0, "share": 1.0},
    }
    assert k["waiting"] == {
        "count": 3,
        "awaiting_dispatcher": 1,
        "after_s": 60,
        "oldest_s": 2200,
        "incidents": ["p1", "w4", "w1"],
    }
    assert k["units"] == {
        "total": 6,
        "out_of_service": 1,
        "busy": 3,
        "utilisation": 0.6,
        "by_agency": {
            "POLICE": {"total": 1, "out_of_service": 0, "busy": 0, "utilisation": 0.0},
            "FIRE": {"total": 3, "out_of_service": 1, "busy": 1, "utilisation": 0.5},
            "MEDICAL": {"total": 2, "out_of_service": 0, "busy": 2, "utilisation": 1.0},
        },
    }


def test_drills_can_be_left_out_or_shown_alone() -> None:
    real = kpis_of("exclude")
    assert real["calls"]["total"] == 12 and real["calls"]["exercise"] == 0
    assert real["p1_within_target"]["FIRE"]["share"] == pytest.approx(1 / 3, abs=1e-4)
    assert real["p1_within_target"]["POLICE"] == {
        "target_s": 600,
        "reached": 0,
        "missed": 0,
        "pending": 0,
        "share": None,
    }
    assert real["waiting"]["incidents"] == ["p1", "w1"] and real["waiting"]["oldest_s"] == 2200
    assert real["call_to_dispatch"]["all"] == spread(6, 10, 30, 4)

    drills = kpis_of("only")
    assert drills["calls"]["total"] == 2 and drills["calls"]["exercise"] == 2
    assert drills["call_to_on_scene"]["all"] == spread(1, 500, 500, 1)
    assert drills["waiting"]["incidents"] == ["w4"]
    # Units are never drills: the same in every view.
    assert drills["units"] == real["units"] == kpis_of()["units"]


def test_the_window_forgets_old_incidents_and_stays_bounded() -> None:
    window = ResponseWindow(KpiSettings(window_s=600))
    window.observe(incident("a", "FIRE", 1, 0, 10))
    window.observe(incident("b", "FIRE", 1, 500, 10))
    assert len(window) == 2
    # A newer incident moves the window on: "a" is older than 600 s before it.
    window.observe(incident("c", "FIRE", 1, 700))
    assert window.get("a") is None and len(window) == 2
    # A late version of an incident already out of the window does not come back.
    window.observe(incident("a", "FIRE", 1, 0, 10, 50, state="CLOSED"))
    assert window.get("a") is None
    # Computing moves it on too, with the caller's clock.
    assert [r.id for r in window.records(T0.timestamp() + 1150)] == ["c"]
    assert len(window) == 1

    bounded = ResponseWindow(KpiSettings(window_s=3600, max_records=3))
    for n in range(5):
        bounded.observe(incident(f"i{n}", "MEDICAL", 2, n * 10))
    assert len(bounded) == 3 and bounded.get("i0") is None and bounded.get("i4") is not None


def test_the_picture_feeds_the_window_closed_incidents_included() -> None:
    picture = Picture()
    picture.put_incident(incident("i1", "FIRE", 1, 0, state="NEW"), (1, 0), True)
    picture.put_incident(incident("i1", "FIRE", 1, 0, 12, state="DISPATCHED"), (2, 0), True)
    # A late, older version changes nothing, in the picture or the window.
    picture.put_incident(incident("i1", "FIRE", 1, 0, state="NEW"), (1, 0), True)
    record = picture.kpis.get("i1")
    assert record is not None and record.state == "DISPATCHED"
    assert record.first_dispatch_time == T0.timestamp() + 12
    closed = incident("i1", "FIRE", 1, 0, 12, 240, state="CLOSED")
    change = picture.put_incident(closed, (3, 0), False)
    assert change is not None and change.op == "remove" and picture.incidents == {}
    # Gone from the picture, still in the KPIs.
    record = picture.kpis.get("i1")
    assert record is not None and record.state == "CLOSED" and record.lead == "FIRE"
    assert record.first_on_scene_time == T0.timestamp() + 240
    found = picture.kpis.compute(T0.timestamp() + 300, picture.incidents.values(), picture.units())
    k = found.model_dump(mode="json")
    assert k["call_to_on_scene"]["by_agency"]["FIRE"] == spread(1, 240, 240, 0)
    assert k["p1_within_target"]["FIRE"]["share"] == 1.0


def test_settings_from_the_environment() -> None:
    assert Config.from_env({}).kpis == KpiSettings()
    env = {"ICC_GATEWAY_KPI_WINDOW_MIN": "30", "ICC_DISPATCH_AUTO": "p1, P3"}
    settings = Config.from_env(env).kpis
    assert settings.window_s == 1800 and settings.auto_priorities == {1, 3}
    with pytest.raises(SettingError, match="ICC_DISPATCH_AUTO"):
        Config.from_env({"ICC_DISPATCH_AUTO": "urgent"})


# Through the gateway


async def kpis(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    reply = await client.get("/api/v1/kpis", params=params)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


async def test_kpis_through_the_gateway(
    gateway: Gateway, services: Services, tmp_path: Path
) -> None:
    anonymous = await gateway.client()
    assert (await anonymous.get("/api/v1/kpis")).status_code == 401
    viewer = await gateway.client("viewer")
    calltaker = await gateway.client("calltaker")
    dispatcher = await gateway.client("dispatcher")
    bad = await viewer.get("/api/v1/kpis", params={"exercise": "sometimes"})
    assert bad.status_code == 400
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["exercise"]

    empty = await kpis(viewer)
    assert empty["calls"]["total"] == 0 and empty["window_s"] == 3600
    assert empty["units"]["total"] > 0 and empty["units"]["busy"] == 0
    assert empty["server_time"].endswith("Z")

    # A P1 fire: dispatch assigns its units by itself.
    fire = await calltaker.post(
        "/api/v1/incidents", json=incident_body("kpi-fire", "FIRE.STRUCTURE", priority=1)
    )
    assert fire.status_code == 201, fire.text
    # A drill that is called off.
    drill = await calltaker.post(
        "/api/v1/incidents", json=incident_body("kpi-drill", priority=4, exercise=True)
    )
    assert drill.status_code == 201, drill.text
    drill_id = drill.json()["incident"]["id"]
    cancelled = await dispatcher.post(
        f"/api/v1/incidents/{drill_id}/cancel", json={"reason": "drill over"}
    )
    assert cancelled.status_code == 200, cancelled.text

    async def dispatched() -> bool:
        # Both calls seen (the drill cancelled), the fire dispatched, its units busy.
        k = await kpis(viewer)
        fire = k["call_to_dispatch"]["by_agency"]["FIRE"]
        calls = k["calls"]
        return bool(
            calls["total"] == 2 and calls["open"] == 1 and fire["n"] == 1 and k["units"]["busy"]
        )

    await eventually(dispatched, timeout_s=30)
    k = await kpis(viewer)
    assert k["calls"]["total"] == 2 and k["calls"]["exercise"] == 1
    took = k["call_to_dispatch"]["by_agency"]["FIRE"]["p50_s"]
    assert 0 <= took < 30
    assert k["call_to_dispatch"]["by_priority"]["1"]["p50_s"] == took
    assert k["p1_within_target"]["FIRE"]["pending"] + k["p1_within_target"]["FIRE"]["reached"] == 1
    assert k["waiting"]["count"] == 0
    real = await kpis(viewer, exercise="exclude")
    assert real["calls"]["total"] == 1 and real["calls"]["exercise"] == 0
    drills = await kpis(viewer, exercise="only")
    assert drills["calls"]["total"] == 1 and drills["call_to_dispatch"]["all"]["n"] == 0

    # Another gateway, started now, reads the cancelled drill from the incidents service:
    # the hour's KPIs survive a restart.
    config = gateway_config(
        services, tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'gw2.db'}"
    )
    running = await gateway_main.start(config)
    second = Gateway(running, f"http://127.0.0.1:{running.port}")
    try:
        await asyncio.wait_for(running.loaded.wait(), timeout=30)
        again = await kpis(await second.client("viewer"), exercise="only")
        assert again["calls"]["total"] == 1 and again["calls"]["open"] == 0
    finally:
        for client in second.clients:
            await client.aclose()
        await running.stop()
