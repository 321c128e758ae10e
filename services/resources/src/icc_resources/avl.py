"""Live unit positions (AVL): ingest, the key-value bucket, and the in-memory view.

Devices publish `UnitPositionReported` on core NATS (`icc.unit.position.<unit>`)
or call ReportPosition. Every replica takes a share of the reports (queue group),
checks them, and puts the good ones in a JetStream key-value bucket keyed by unit
id (history 1: only the latest matters). Every replica watches the bucket, so its
in-memory view holds every unit's latest position whoever ingested it.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from opentelemetry import metrics

from icc.resource.v1 import events_pb2
from icc_resources.convert import position_from_proto
from icc_resources.domain.avl import Verdict, is_stale, judge
from icc_resources.domain.model import Position

log = logging.getLogger(__name__)
BUCKET = "ICC_UNIT_POSITIONS"
SUBJECT = "icc.unit.position.*"
QUEUE = "resources-avl"
_reports = metrics.get_meter("icc_resources").create_counter(
    "icc.avl.reports", description="Position reports by verdict"
)


class PositionView:
    """The latest position of every unit, as this process knows it."""

    def __init__(self, stale_after: timedelta) -> None:
        self.positions: dict[str, Position] = {}
        self.known_units: set[str] = set()
        self.stale_after = stale_after

    def latest(self, unit_id: str) -> Position | None:
        return self.positions.get(unit_id)

    def stale(self, position: Position, now: datetime) -> bool:
        return is_stale(position, now, self.stale_after)

    def apply(self, unit_id: str, position: Position) -> None:
        last = self.positions.get(unit_id)
        if last is None or position.report_time > last.report_time:
            self.positions[unit_id] = position


class Avl:
    def __init__(self, nc: Client, view: PositionView, replicas: int = 1) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._view = view
        self._replicas = replicas
        self._kv: KeyValue | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: object | None = None
        self.counts = {v: 0 for v in Verdict}

    async def start(self) -> None:
        self._kv = await self._js.create_key_value(
            KeyValueConfig(
                bucket=BUCKET,
                history=1,
                storage=StorageType.FILE,
                replicas=self._replicas,
                description="Latest position of every unit",
            )
        )
        watcher = await self._kv.watchall()
        self._tasks.append(asyncio.create_task(self._watch(watcher), name="avl-watch"))
        self._sub = await self._nc.subscribe(
            SUBJECT, queue=QUEUE, cb=self._on_report, pending_msgs_limit=200_000
        )

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()  # type: ignore[attr-defined]
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, watcher: object) -> None:
        async for entry in watcher:  # type: ignore[attr-defined]
            # None marks the end of the initial values.
            if entry is None or not entry.value:
                continue
            try:
                report = events_pb2.UnitPositionReported.FromString(entry.value)
            except DecodeError:
                continue
            self._view.apply(entry.key, position_from_proto(report.position))

    async def _on_report(self, msg: Msg) -> None:
        try:
            report = events_pb2.UnitPositionReported.FromString(msg.data)
        except DecodeError:
            self._count(Verdict.REJECTED, "malformed")
            return
        await self.ingest(report)

    async def ingest(self, report: events_pb2.UnitPositionReported) -> Verdict:
        """Check one report and store it when it is good; returns the verdict."""
        unit_id = report.unit.removeprefix("units/")
        position = position_from_proto(report.position) if report.HasField("position") else None
        if position is None:
            self._count(Verdict.REJECTED, "no position")
            return Verdict.REJECTED
        verdict, why = judge(
            position,
            self._view.latest(unit_id),
            known_unit=unit_id in self._view.known_units,
            now=datetime.now(UTC),
        )
        self._count(verdict, why)
        if verdict is Verdict.ACCEPTED:
            # Seen here at once; the bucket tells the other replicas.
            self._view.apply(unit_id, position)
            assert self._kv is not None
            report.unit = f"units/{unit_id}"
            await self._js.publish_async(f"$KV.{BUCKET}.{unit_id}", report.SerializeToString())
        return verdict

    def _count(self, verdict: Verdict, why: str) -> None:
        self.counts[verdict] += 1
        _reports.add(1, {"verdict": verdict.value, "reason": why})
