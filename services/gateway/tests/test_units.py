"""Small pure parts: error shapes and field names, roles, the trace sink's answers."""

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher

from icc_gateway import users
from icc_gateway.accounts import Accounts
from icc_gateway.domain.roles import Role, may_see_personal_data
from icc_gateway.errors import ApiError, api_field, from_validation
from icc_gateway.store import metadata
from icc_gateway.throttle import LoginThrottle, sign_in_keys
from icc_gateway.traces import TraceSink
from icc_storage import Database, upgrade


@pytest.mark.parametrize(
    ("service_field", "api"),
    [
        ("incident.type_code", "type_code"),
        ("incident.location", "location"),
        ("incident.location.lat", "lat"),
        ("incident.location.ward", "ward"),
        ("incident.caller.phone", "caller.phone"),
        ("incident", "id"),
        ("name", "id"),
        ("parent", "id"),
        ("units[1]", "units[1]"),
        ("override_reason", "override_reason"),
    ],
)
def test_service_field_names_become_the_apis(service_field: str, api: str) -> None:
    assert api_field(service_field) == api


def test_validation_errors_in_the_api_shape() -> None:
    error = from_validation(
        [
            {"loc": ("body", "lat"), "msg": "Field required", "type": "missing"},
            {"loc": ("body", "units", 2), "msg": "String should match pattern", "type": "x"},
            {"loc": ("body", "caller", "phone"), "msg": "too long", "type": "x"},
            {"loc": ("path", "id"), "msg": "bad", "type": "x"},
            {"loc": ("body", 3), "msg": "JSON decode error", "type": "json_invalid"},
        ]
    )
    assert error.status == 400 and error.code == "invalid_argument"
    assert [f.field for f in error.fields] == ["lat", "units[2]", "caller.phone", "id", "body"]
    assert error.body()["error"]["fields"][0] == {"field": "lat", "description": "Field required"}
    assert "lat: Field required" in error.message


def test_roles_include_the_ones_before() -> None:
    assert Role.SUPERVISOR.includes(Role.DISPATCHER)
    assert Role.DISPATCHER.includes(Role.CALL_TAKER) and Role.DISPATCHER.includes(Role.VIEWER)
    assert not Role.CALL_TAKER.includes(Role.DISPATCHER)
    assert not Role.VIEWER.includes(Role.CALL_TAKER)
    assert not may_see_personal_data(Role.VIEWER, incident_open=True)
    assert may_see_personal_data(Role.CALL_TAKER, incident_open=True)
    assert not may_see_personal_data(Role.DISPATCHER, incident_open=False)
    assert may_see_personal_data(Role.SUPERVISOR, incident_open=False)


async def test_sessions_expire_and_logout_ends_them(database_url: str) -> None:
    db = Database(database_url)
    now = [datetime(2026, 11, 25, 8, tzinfo=UTC)]
    # Cheap hashing parameters: this test is about sessions, not about argon2.
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(db, session_ttl=timedelta(hours=12), clock=lambda: now[0], hasher=hasher)
    try:
        await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
        assert await accounts.ensure_demo_users() == [
            "supervisor",
            "dispatcher",
            "calltaker",
            "viewer",
        ]
        assert await accounts.ensure_demo_users() == []  # only into an empty table
        await accounts.add_user("lan.nguyen", "a-long-password", Role.DISPATCHER, agency="FIRE")
        assert await accounts.login("lan.nguyen", "wrong-password") is None
        assert await accounts.login("nobody", "a-long-password") is None
        found = await accounts.login("lan.nguyen", "a-long-password")
        assert found is not None
        user, token = found
        assert (user.role, user.agency) == (Role.DISPATCHER, "FIRE")
        assert await accounts.user_for(token) == user
        assert await accounts.user_for(token + "x") is None
        now[0] += timedelta(hours=11, minutes=59)
        assert await accounts.user_for(token) == user
        now[0] += timedelta(minutes=2)
        assert await accounts.user_for(token) is None  # a shift is over
        _, token = await accounts.login("viewer", "icc-demo") or (None, "")
        assert await accounts.user_for(token) is not None
        await accounts.logout(token)
        assert await accounts.user_for(token) is None
    finally:
        await db.dispose()


async def test_migrations_match_the_declared_tables(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
        async with db.read() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
        assert diff == []
    finally:
        await db.dispose()


SINK_SPAN = {
    "trace_id": "ab" * 16,
    "service": "incidents",
    "operation": "IncidentService/CreateIncident",
    "start_ms": 0.0,
    "duration_ms": 4.2,
    "depth": 0,
    "error": None,
    "step": "intake",
    "extra": "dropped",
}


async def test_trace_sink_answers() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        incident = request.url.path.split("/")[2]
        if incident == "missing":
            return httpx.Response(404, json={"error": "no spans"})
        if incident == "broken":
            return httpx.Response(500, text="oops")
        span = SINK_SPAN
        read = {**span, "operation": "GET /api/v1/incidents/{id}", "step": "reads"}
        odd = {**span, "operation": "something new", "step": "a step not known yet"}
        spans = [span, *([read] if request.url.params.get("reads") == "1" else []), odd]
        steps = [
            {"step": "intake", "label": "Intake", "start_ms": 0.0, "end_ms": 4.2, "spans": 1},
            {"step": "other", "start_ms": float("nan"), "end_ms": 1.0, "spans": 1},
        ]
        return httpx.Response(
            200,
            content=json.dumps(
                {"spans": [*spans, {"start_ms": "nonsense"}], "steps": steps, "reads_hidden": 2}
            ),
            headers={"content-type": "application/json"},
        )

    sink = TraceSink("http://sink:4318/", transport=httpx.MockTransport(answer))
    try:
        trace = (await sink.waterfall("abc")).model_dump()
        # Each field as it came, of the right type; what the API does not have, left out.
        expected = {k: v for k, v in SINK_SPAN.items() if k not in ("extra", "error")}
        assert trace["spans"][0] == {**expected, "error": False}
        # A step this gateway does not know is "other"; a summary without finite times
        # is left out; the screen's reads only when asked for.
        assert [(s["operation"], s["step"]) for s in trace["spans"]] == [
            ("IncidentService/CreateIncident", "intake"),
            ("something new", "other"),
        ]
        assert trace["steps"] == [{"step": "intake", "start_ms": 0.0, "end_ms": 4.2, "spans": 1}]
        assert trace["reads_hidden"] == 2
        with_reads = await sink.waterfall("abc", reads=True)
        assert [s.step for s in with_reads.spans] == ["intake", "reads", "other"]
        assert (await sink.waterfall("missing")).model_dump() == {
            "spans": [],
            "steps": [],
            "reads_hidden": 0,
        }
        with pytest.raises(ApiError) as failed:
            await sink.waterfall("broken")
        assert failed.value.status == 503
    finally:
        await sink.close()
    with pytest.raises(ApiError) as off:
        await TraceSink(None).waterfall("abc")
    assert off.value.status == 503 and "ICC_TRACESINK_QUERY_URL" in off.value.message


def test_accounts_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"ICC_GATEWAY_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"}
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert users.main(["add", "lan.nguyen", "--role", "dispatcher", "--agency", "FIRE"], env) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert users.main(["add", "lan.nguyen", "--role", "viewer"], env) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert users.main(["add", "Bad Name", "--role", "viewer"], env) == 2
    assert users.main(["list"], env) == 0
    out, err = capsys.readouterr()
    assert "added lan.nguyen (dispatcher, FIRE)" in out
    assert "lan.nguyen\tdispatcher\tFIRE" in out
    assert "already exists" in err and "username:" in err
    assert "a-long-password" not in out + err


async def test_a_lock_is_lifted_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    db = Database(url)
    try:
        await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
        throttle = LoginThrottle(db)
        keys = sign_in_keys("lan.nguyen", "192.0.2.7")
        for _ in range(10):
            await throttle.failed(keys)
        assert await throttle.wait_s(keys) > 0
        env = {"ICC_GATEWAY_DB_URL": url}
        # The command opens its own event loop: run it beside this one.
        assert await asyncio.to_thread(users.main, ["unlock", "lan.nguyen"], env) == 0
        assert await throttle.wait_s([keys[0]]) == 0 and await throttle.wait_s([keys[1]]) > 0
        unlock = ["unlock", "lan.nguyen", "--address", "192.0.2.7"]
        assert await asyncio.to_thread(users.main, unlock, env) == 0
        assert await throttle.wait_s(keys) == 0
        out, _ = capsys.readouterr()
        assert "unlocked lan.nguyen\n" in out and "unlocked lan.nguyen and 192.0.2.7" in out
    finally:
        await db.dispose()
