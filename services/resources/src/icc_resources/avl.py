"""Live unit positions (AVL): ingest, the key-value bucket, and the in-memory view.

Devices publish `UnitPositionReported` on core NATS (`icc.unit.position.<unit>`)
or call ReportPosition. Every replica takes a share of the reports (queue group),
checks them, and puts the good ones in a JetStream key-value bucket keyed by unit
id (history 1: only the latest matters). Every replica watches the bucket, so its
in-memory view holds every unit's latest position whoever ingested it.

This is the service's hottest path (a city fleet reports thousands of positions a
second), so per report it does as little as it can (see `bench/avl.py`):

- A KV put is a JetStream publish on `$KV.<bucket>.<key>`. It goes out as a core
  publish with a reply subject under one inbox of this process, and one wildcard
  subscription counts the acks. That keeps what `js.publish_async` gives (every put
  acknowledged; errors seen and counted, per unit; back-pressure: at most
  `PUT_WINDOW` puts unacknowledged, then ingest waits) without its per-put costs (a
  semaphore taken with `asyncio.wait_for`, which makes a task each time, a future,
  a JSON-decoded `PubAck`). A failed put is not retried as such: the unit's latest
  position is put again a moment later, unless a newer one came meanwhile. Acks that
  never come (connection lost) are given up after `ACK_TIMEOUT_S`: devices report
  again within seconds, and a position is only ever replaced by a newer one.
- A report that arrives as bytes with its canonical unit name is stored as those
  bytes, not parsed and serialized again.
- Counting verdicts is a dict increment; the metric reads the totals when exported.
- The watcher skips the entries this replica put itself (the same bytes): they
  were applied to the view at ingest.

Two replicas may take two reports of one unit at about the same time and put them
in either order, so the bucket could end on the older one. The replica whose put
was overwritten by an older position sees that in its watcher and puts its own
again; the other replica then sees a newer position and does nothing.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from icc.resource.v1 import events_pb2
from icc_bus import cancel_and_wait, flush
from icc_kernel.clock import utc_now
from icc_kernel.errors import InvalidInput
from icc_resources.convert import position_from_proto
from icc_resources.domain.avl import Verdict, is_stale, judge
from icc_resources.domain.model import Position

log = logging.getLogger(__name__)
BUCKET = "ICC_UNIT_POSITIONS"
SUBJECT = "icc.unit.position.*"
QUEUE = "resources-avl"
KV_PREFIX = f"$KV.{BUCKET}."
UNIT_PREFIX = "units/"
# Puts sent and not yet acknowledged before ingest waits for acks (back-pressure).
PUT_WINDOW = 4000
# How long ingest waits for room in the window before it gives the missing acks up.
ACK_TIMEOUT_S = 5.0
# How often the latest position of units whose put failed is put again.
RETRY_EVERY_S = 1.0
RETRY_TIMEOUT_S = 2.0
# At most one warning per this many seconds about failed puts.
WARN_EVERY_S = 10.0

# Reports by (verdict, reason) in this process; exported by `_observe_reports`.
_tally: Counter[tuple[str, str]] = Counter()


def _observe_reports(_options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(n, {"verdict": v, "reason": why}) for (v, why), n in _tally.items()]


_meter = metrics.get_meter("icc_resources")
_meter.create_observable_counter(
    "icc.avl.reports", callbacks=[_observe_reports], description="Position reports by verdict"
)
_put_failures = _meter.create_counter(
    "icc.avl.put_failures", description="Position puts into the bucket that JetStream refused"
)

# The views of this process's running Avl (one in a service), read at each export.
_views: set["PositionView"] = set()
_POSITION_STATES = ("fresh", "stale", "none")


def _observe_units(_options: CallbackOptions) -> Iterable[Observation]:
    now = utc_now()
    counts: Counter[tuple[str, str]] = Counter()
    for view in list(_views):
        for unit_id, agency in list(view.agencies.items()):
            position = view.positions.get(unit_id)
            state = (
                "none" if position is None else "stale" if view.stale(position, now) else "fresh"
            )
            counts[agency, state] += 1
    # Zeros too: an agency with no fresh position at all is what the alert looks for.
    agencies = sorted({agency for agency, _ in counts})
    return [
        Observation(counts[agency, state], {"agency": agency, "position": state})
        for agency in agencies
        for state in _POSITION_STATES
    ]


_meter.create_observable_gauge(
    "icc.avl.units",
    callbacks=[_observe_units],
    unit="{unit}",
    description="Units by agency and by their latest position: fresh, stale or none",
)


class PositionView:
    """The latest position of every unit, as this process knows it."""

    def __init__(self, stale_after: timedelta) -> None:
        self.positions: dict[str, Position] = {}
        self.known_units: set[str] = set()
        # Unit id -> agency name, for the metric of units by agency and position.
        self.agencies: dict[str, str] = {}
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
        self._sub: Subscription | None = None
        self._acks: Subscription | None = None
        self._ack_prefix = ""
        # The last position this replica put for each unit, and the bytes it put.
        self._mine: dict[str, tuple[Position, bytes]] = {}
        self._in_flight = 0
        self._room = asyncio.Event()
        self._room.set()
        self._failed: set[str] = set()
        self._failures_unlogged = 0
        self._last_warning = 0.0
        self.counts = {v: 0 for v in Verdict}
        self.put_failures = 0

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
        self._ack_prefix = self._nc.new_inbox() + "."
        # `>`: the unit id after the prefix may hold dots.
        self._acks = await self._nc.subscribe(self._ack_prefix + ">", cb=self._on_ack)
        watcher = await self._kv.watchall()
        self._tasks.append(asyncio.create_task(self._watch(watcher), name="avl-watch"))
        self._tasks.append(asyncio.create_task(self._retry_failed(), name="avl-retry"))
        self._sub = await self._nc.subscribe(
            SUBJECT, queue=QUEUE, cb=self._on_report, pending_msgs_limit=200_000
        )
        # The server has the subscriptions once this returns: ready means taking reports.
        await flush(self._nc)
        _views.add(self._view)

    async def stop(self) -> None:
        _views.discard(self._view)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._acks is not None:
            # A round trip first, so the acks of the last puts are mostly in.
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=1)
            with contextlib.suppress(Exception):
                await self._acks.unsubscribe()
        await cancel_and_wait(*self._tasks)

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        mine = self._mine
        view = self._view
        async for entry in watcher:
            # None marks the end of the initial values.
            if entry is None or not entry.value:
                continue
            key = entry.key
            own = mine.get(key)
            if own is not None and own[1] == entry.value:
                continue  # this replica's own put, applied at ingest
            try:
                report = events_pb2.UnitPositionReported.FromString(entry.value)
                position = position_from_proto(report.position)
            except (DecodeError, InvalidInput):
                continue
            view.apply(key, position)
            if (
                own is not None
                and view.positions.get(key) is own[0]
                and position.report_time < own[0].report_time
            ):
                # An older position than the one this replica put came after it: a
                # unit's reports reach the replicas in any order. Put ours again, so
                # that the bucket ends on the newest (whoever holds it does this).
                await self._put(key, own[0], own[1])

    async def _on_report(self, msg: Msg) -> None:
        try:
            report = events_pb2.UnitPositionReported.FromString(msg.data)
        except DecodeError:
            self._count(Verdict.REJECTED, "malformed")
            return
        await self._ingest(report, msg.data)

    async def ingest(self, report: events_pb2.UnitPositionReported) -> Verdict:
        """Check one report and store it when it is good; returns the verdict."""
        return await self._ingest(report, None)

    async def _ingest(self, report: events_pb2.UnitPositionReported, raw: bytes | None) -> Verdict:
        """`raw`: the report's bytes as received, stored as they are when canonical."""
        name = report.unit
        canonical = name.startswith(UNIT_PREFIX)
        unit_id = name[len(UNIT_PREFIX) :] if canonical else name
        if not report.HasField("position"):
            self._count(Verdict.REJECTED, "no position")
            return Verdict.REJECTED
        try:
            position = position_from_proto(report.position)
        except InvalidInput:
            self._count(Verdict.REJECTED, "report time out of range")
            return Verdict.REJECTED
        verdict, why = judge(
            position,
            self._view.positions.get(unit_id),
            known_unit=unit_id in self._view.known_units,
            now=utc_now(),
        )
        self._count(verdict, why)
        if verdict is Verdict.ACCEPTED:
            # Seen here at once; the bucket tells the other replicas.
            self._view.apply(unit_id, position)
            if raw is None or not canonical:
                report.unit = UNIT_PREFIX + unit_id
                raw = report.SerializeToString()
            await self._put(unit_id, position, raw)
        return verdict

    async def _put(self, unit_id: str, position: Position, data: bytes) -> None:
        """A KV put whose ack `_on_ack` counts; waits while `PUT_WINDOW` acks are missing."""
        self._mine[unit_id] = (position, data)
        if self._in_flight >= PUT_WINDOW:
            await self._wait_for_room()
        self._in_flight += 1
        try:
            await self._nc.publish(KV_PREFIX + unit_id, data, reply=self._ack_prefix + unit_id)
        except NatsError as exc:  # e.g. the reconnect buffer is full
            self._in_flight -= 1
            self._put_failed(unit_id, str(exc))

    async def _wait_for_room(self) -> None:
        self._room.clear()
        try:
            # Not `wait_for`, which on Python 3.11 can drop a stop's cancellation.
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await self._room.wait()
        except TimeoutError:
            log.warning(
                "no ack for %d position puts in %.0f s; going on without them",
                self._in_flight,
                ACK_TIMEOUT_S,
            )
            self._in_flight = 0
            self._room.set()

    async def _on_ack(self, msg: Msg) -> None:
        if self._in_flight:
            self._in_flight -= 1
        if not self._room.is_set() and self._in_flight <= PUT_WINDOW // 2:
            self._room.set()
        data = msg.data
        # A PubAck is `{"stream":...,"seq":...}`; an error is `{"error":{...}}`; no
        # stream listening is an empty 503 status message.
        if not data or b'"error"' in data:
            reason = data.decode(errors="replace") if data else "no stream (503)"
            self._put_failed(msg.subject[len(self._ack_prefix) :], reason)

    def _put_failed(self, unit_id: str, reason: str) -> None:
        self.put_failures += 1
        _put_failures.add(1)
        self._failed.add(unit_id)
        self._failures_unlogged += 1
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            log.warning(
                "%d position put(s) failed, will put the latest again; last: %s: %s",
                self._failures_unlogged,
                unit_id,
                reason,
            )
            self._failures_unlogged = 0
            self._last_warning = now

    async def _retry_failed(self) -> None:
        """Puts again the latest position of units whose put failed, unless a newer came."""
        while True:
            await asyncio.sleep(RETRY_EVERY_S)
            failed, self._failed = list(self._failed), set()
            for i, unit_id in enumerate(failed):
                mine = self._mine.get(unit_id)
                if mine is None or self._view.positions.get(unit_id) is not mine[0]:
                    continue  # a newer position came: its own put carries it
                try:
                    await self._js.publish(KV_PREFIX + unit_id, mine[1], timeout=RETRY_TIMEOUT_S)
                except (NatsError, TimeoutError) as exc:
                    # JetStream is not taking puts: the rest waits for the next round.
                    self._failed.update(failed[i:])
                    log.warning("putting %d position(s) again failed: %r", len(failed) - i, exc)
                    break

    def _count(self, verdict: Verdict, why: str) -> None:
        self.counts[verdict] += 1
        _tally[verdict.value, why] += 1
