"""The audit of personal data, on SQLite and PostgreSQL: every answer that held an
incident's personal data and every change is on record (who, on whose behalf, which
incident, which fields, when, through which RPC), with field names and never values; only
the center's supervisors read it; the database refuses to change a record; personal data
of incidents ended longer ago than the retention is erased, with a clock the test moves,
while the incident's facts stay."""

from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents import events, store
from icc_incidents.api import SERVICE_NAME
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.model import Caller, Location
from icc_incidents.main import load_rules
from icc_incidents.service import IncidentService
from icc_kernel.actors import Actor
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency
from icc_pki.assertion import Person
from icc_storage import Database, WriteBatcher, upgrade

from .conftest import Service

T = 5
AT = common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn")
NAME, PHONE, NOTE = "Nguyễn Văn A", "0909123456", "con chó dữ trong sân"
CALL_TAKER = Person("lan", Agency.COMMAND_CENTER, Role.CALL_TAKER)
SUPERVISOR = Person("minh", Agency.COMMAND_CENTER, Role.SUPERVISOR)


def _records(
    reply: pb.ListAuditRecordsResponse,
) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    return [
        (pb.AuditAction.Name(r.action), r.rpc, r.caller, r.person, tuple(r.fields))
        for r in reply.records
    ]


async def test_every_look_at_personal_data_and_every_change_is_on_record(
    service: Service, database_url: str
) -> None:
    created = (
        await service.stub.CreateIncident(
            pb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code="POLICE.BURGLARY",
                    location=AT,
                    caller=incident_pb2.Caller(name=NAME, phone=PHONE),
                )
            ),
            timeout=T,
        )
    ).incident
    gateway = service.as_("gateway")
    await gateway.AddNote(
        pb.AddNoteRequest(parent=created.name, text=NOTE),
        metadata=service.pki.acting_for(CALL_TAKER, SERVICE_NAME),
        timeout=T,
    )
    # A partner dispatcher of the involved agency sees the personal data: recorded.
    police = service.as_("police-113")
    seen = (await police.GetIncident(pb.GetIncidentRequest(name=created.name), timeout=T)).incident
    assert seen.caller.phone == PHONE
    # A viewer does not: nothing to record.
    viewed = (
        await service.as_("police-viewer").GetIncident(
            pb.GetIncidentRequest(name=created.name), timeout=T
        )
    ).incident
    assert not viewed.caller.phone and not viewed.notes
    await service.stub.ListIncidents(pb.ListIncidentsRequest(), timeout=T)

    # Only the center's supervisors read the audit.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await police.ListAuditRecords(pb.ListAuditRecordsRequest(parent=created.name), timeout=T)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway.ListAuditRecords(
            pb.ListAuditRecordsRequest(parent=created.name),
            metadata=service.pki.acting_for(CALL_TAKER, SERVICE_NAME),
            timeout=T,
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = await gateway.ListAuditRecords(
        pb.ListAuditRecordsRequest(parent=created.name),
        metadata=service.pki.acting_for(SUPERVISOR, SERVICE_NAME),
        timeout=T,
    )
    assert _records(reply) == [
        (
            "AUDIT_ACTION_CHANGE",
            "CreateIncident",
            "command-center",
            "",
            ("type_code", "priority", "location", "agencies", "description", "caller"),
        ),
        ("AUDIT_ACTION_CHANGE", "AddNote", "gateway", "lan", ("notes",)),
        ("AUDIT_ACTION_READ", "GetIncident", "police-113", "", ("caller", "notes")),
        ("AUDIT_ACTION_READ", "ListIncidents", "command-center", "", ("caller",)),
    ]
    first = reply.records[0]
    assert first.incident == created.name and first.agency == common_pb2.AGENCY_COMMAND_CENTER
    assert reply.records[2].agency == common_pb2.AGENCY_POLICE
    assert reply.records[2].role == "dispatcher"
    # Field names only: no value of the personal data is in the audit.
    raw = reply.SerializeToString()
    for value in (NAME, PHONE, NOTE):
        assert value.encode() not in raw
    # Paged like the chronology.
    page = await service.stub.ListAuditRecords(
        pb.ListAuditRecordsRequest(parent=created.name, page_size=3), timeout=T
    )
    rest = await service.stub.ListAuditRecords(
        pb.ListAuditRecordsRequest(parent=created.name, page_token=page.next_page_token),
        timeout=T,
    )
    assert [r.sequence for r in (*page.records, *rest.records)] == [
        r.sequence for r in reply.records
    ]

    # The database refuses to change or remove a record.
    db = Database(database_url)
    try:
        for statement in ("UPDATE audit SET caller = 'nobody'", "DELETE FROM audit"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.write() as conn:
                    await conn.execute(text(statement))
    finally:
        await db.dispose()


NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ACTOR = Actor("lan", Agency.COMMAND_CENTER, "call_taker", via="spiffe://icc.hcmc/gateway/gateway")


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_personal_data_of_ended_incidents_is_erased_after_the_retention(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    await upgrade(db, Path(str(resources.files("icc_incidents") / "migrations")))
    batcher = WriteBatcher(db)
    batcher.start()
    clock = Clock()
    service = IncidentService(
        db=db, batcher=batcher, rules=load_rules(), announce=events.staged, clock=clock
    )
    retention = timedelta(days=30)
    try:
        draft = Draft(
            "MEDICAL.CARDIAC_ARREST",
            Location(10.7740, 106.7035, "1 Lê Lợi", "Sài Gòn"),
            caller=Caller(NAME, PHONE),
        )
        ended, _ = await service.create(draft, "", ACTOR)
        still_open, _ = await service.create(draft, "", ACTOR)
        await service.add_note(ended.name, NOTE, ACTOR)
        clock.now = NOW + timedelta(hours=1)
        cancelled = await service.cancel(ended.name, "nhầm", "", ACTOR)

        clock.now = cancelled.update_time + retention - timedelta(minutes=1)
        assert await service.erase_personal_data(retention) == 0
        clock.now = cancelled.update_time + retention + timedelta(minutes=1)
        assert await service.erase_personal_data(retention) == 1
        assert await service.erase_personal_data(retention) == 0  # nothing left to erase

        erased = await service.get(ended.name)
        assert (erased.caller.name, erased.caller.phone) == ("", "")
        assert [n.text for n in erased.notes] == [""]
        # The incident's facts stay.
        assert erased.type_code == "MEDICAL.CARDIAC_ARREST" and erased.priority == ended.priority
        assert erased.location == ended.location and erased.close_time == cancelled.close_time
        assert erased.notes[0].author.user == "lan"
        # An open incident keeps its caller, however old.
        kept = await service.get(still_open.name)
        assert (kept.caller.name, kept.caller.phone) == (NAME, PHONE)
        records = await service.audit(ended.name, 100, 0)
        assert [(r.action, r.rpc, r.caller, r.fields) for r in records][-1] == (
            "erase",
            "",
            "retention",
            ("caller", "notes"),
        )
        async with db.read() as conn:
            rows = (await conn.execute(store.audit.select())).all()
        assert all(NAME not in str(row) and PHONE not in str(row) for row in rows)
    finally:
        await batcher.stop()
        await db.dispose()
