"""`icc audit INCIDENT` against a real incidents service over mutual TLS: a supervisor of
the center sees who read and changed an incident's personal data (names of fields, never
values); a partner's certificate is refused with a sentence saying who may."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_bus import BusConfig
from icc_incidents.main import Config, start
from icc_testing import NatsServer, Pki

PHONE = "0909123456"


def _audit(name: str, target: str, pki: Pki, who: str, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "icc_cli.main", "audit", name, "--target", target],
        env={**os.environ, **pki.env(who), "ICC_VAR_DIR": str(tmp_path), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_icc_audit_shows_a_supervisor_who_saw_and_changed_an_incident(
    nats_server: NatsServer, pki: Pki, tmp_path: Path
) -> None:
    running = await start(
        Config(
            address="127.0.0.1:0",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
            bus=BusConfig(url=nats_server.url),
            relay_enabled=True,
            tls=pki.tls("incidents"),
        )
    )
    target = f"127.0.0.1:{running.port}"
    try:
        async with pki.channel(target) as channel:
            stub = pb_grpc.IncidentServiceStub(channel)
            created = (
                await stub.CreateIncident(
                    pb.CreateIncidentRequest(
                        incident=incident_pb2.Incident(
                            type_code="POLICE.BURGLARY",
                            location=common_pb2.Location(lat=10.774, lon=106.7035),
                            caller=incident_pb2.Caller(name="Trần Thị B", phone=PHONE),
                        )
                    ),
                    timeout=5,
                )
            ).incident
        async with pki.channel(target, "police-113") as channel:
            await pb_grpc.IncidentServiceStub(channel).GetIncident(
                pb.GetIncidentRequest(name=created.name), timeout=5
            )
        supervisor = _audit(created.name, target, pki, "command-center", tmp_path)
        partner = _audit(created.name, target, pki, "police-113", tmp_path)
        (shown, _), (refused, _) = await asyncio.gather(
            asyncio.to_thread(supervisor.communicate, timeout=60),
            asyncio.to_thread(partner.communicate, timeout=60),
        )
    finally:
        await running.stop()
    assert supervisor.returncode == 0, shown
    assert f"{created.name}: 2 records" in shown
    for expected in ("change", "CreateIncident", "command-center", "read", "GetIncident"):
        assert expected in shown, shown
    assert "police-113" in shown and "POLICE dispatcher" in shown and "caller" in shown
    assert PHONE not in shown
    assert partner.returncode == 1
    assert "may not call ListAuditRecords" in refused and "supervisors" in refused, refused
