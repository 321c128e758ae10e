"""Keeps this replica's picture current: events from JetStream, a snapshot through gRPC,
unit positions from the key-value bucket.

Every gateway replica needs every change, so each follows the streams with ordered
consumers of its own (not the services' shared durable consumers). They are subscribed
*before* the snapshot is read and their events held until it is in, so nothing falls in
between; the picture keeps the newest version of everything, so the overlap is harmless.
A periodic full re-read heals anything missed (e.g. a long NATS outage).
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import events_pb2 as incident_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc.resource.v1.events_pb2 import UnitPositionReported
from icc_bus import (
    HEADER_EVENT_TYPE,
    EventTypes,
    PoisonMessage,
    cancel_and_wait,
    messages_of,
    watch_bucket,
)
from icc_bus.events import subject_attributes, subject_template
from icc_gateway import convert
from icc_gateway.clients import Services
from icc_gateway.config import PictureSettings
from icc_gateway.domain.model import Change, IncidentAssignment
from icc_gateway.domain.picture import Picture, PositionThrottle
from icc_kernel.names import id_of
from icc_telemetry import extract

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("icc_gateway")

POSITIONS_BUCKET = "ICC_UNIT_POSITIONS"
# (stream, subjects) the picture follows; the services declare the streams.
SOURCES = (
    ("ICC_INCIDENT", "icc.incident.>"),
    ("ICC_UNIT", "icc.unit.status.>"),
    ("ICC_DISPATCH", "icc.dispatch.>"),
    ("ICC_HOSPITAL", "icc.hospital.>"),
)
# Named one by one (not `messages_of`): `changes_of` narrows an event to these types.
INCIDENT_EVENTS = (
    incident_events.IncidentCreated,
    incident_events.IncidentUpdated,
    incident_events.IncidentStateChanged,
    incident_events.IncidentNoteAdded,
    incident_events.IncidentMerged,
    incident_events.IncidentClosed,
    incident_events.IncidentCancelled,
)
EVENTS = EventTypes(
    [
        *INCIDENT_EVENTS,
        resource_events.UnitStatusChanged,
        resource_events.HospitalCapacityChanged,
        *messages_of(dispatch_events),
    ]
)
_PAGE = 500
_RETRY_S = 0.5


def put_incident(picture: Picture, i: incident_pb2.Incident) -> Change | None:
    return picture.put_incident(
        convert.incident_item(i), convert.incident_version(i), convert.is_open(i)
    )


def put_unit(picture: Picture, u: resource_pb2.Unit) -> Change | None:
    return picture.put_unit(convert.unit_item(u), convert.unit_version(u), convert.position_time(u))


def put_hospital(picture: Picture, h: resource_pb2.Hospital) -> Change | None:
    return picture.put_hospital(convert.hospital_item(h), convert.hospital_version(h))


def changes_of(picture: Picture, event: Message) -> Iterable[Change | None]:
    """What an event changes in the picture (pure, apart from the picture itself)."""
    if isinstance(event, INCIDENT_EVENTS):
        incidents = [event.incident]
        if isinstance(event, incident_events.IncidentMerged):
            incidents.append(event.duplicate)
        for i in incidents:
            yield put_incident(picture, i)
    elif isinstance(event, resource_events.UnitStatusChanged):
        yield put_unit(picture, event.unit)
    elif isinstance(event, resource_events.HospitalCapacityChanged):
        yield put_hospital(picture, event.hospital)
    elif isinstance(event, dispatch_events.UnitsAssigned | dispatch_events.UnitsReleased):
        by_incident: dict[str, list[IncidentAssignment]] = {}
        for a in event.assignments:
            by_incident.setdefault(id_of(a.incident), []).append(
                convert.assignment_from_dispatch(a)
            )
        for incident_id, items in by_incident.items():
            yield picture.put_assignments(incident_id, items)
    elif isinstance(event, dispatch_events.AssignmentAcknowledged):
        a = event.assignment
        yield picture.put_assignments(id_of(a.incident), [convert.assignment_from_dispatch(a)])
    elif isinstance(event, dispatch_events.AssignmentEscalated):
        a = event.assignment
        escalated = convert.assignment_from_dispatch(a).model_copy(update={"escalated": True})
        yield picture.put_assignments(id_of(a.incident), [escalated])
    # Recommendations are for the dispatch panel (GET .../recommendation), not the picture.


class PictureFeed:
    def __init__(
        self,
        nc: Client,
        services: Services,
        picture: Picture,
        publish: Callable[[Change], None],
        settings: PictureSettings,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._services = services
        self._picture = picture
        self._publish = publish
        self._settings = settings
        self._throttle = PositionThrottle(settings.position_interval_s)
        self.loaded = asyncio.Event()
        # Events that came while the snapshot was being read: applied right after it.
        self._held: list[Msg] | None = []
        # Per stream, the last sequence applied: an ordered consumer that restarts (a
        # server restart before it saw anything) would otherwise replay the stream.
        self._floor: dict[str, int] = {}
        self._subs: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="picture-feed"))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await cancel_and_wait(*self._tasks)
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _run(self) -> None:
        for stream, subject in SOURCES:
            await self._subscribe(stream, subject)
        await self._until_loaded()
        held, self._held = self._held or [], None
        for msg in held:
            self._apply(msg)
        self.loaded.set()
        log.info(
            "picture loaded",
            extra={
                "incidents": len(self._picture.incidents),
                "units": self._picture.unit_count,
                "hospitals": len(self._picture.hospitals),
                "cursor": self._picture.cursor,
            },
        )
        positions = watch_bucket(
            self._js, POSITIONS_BUCKET, UnitPositionReported.FromString, self._on_position
        )
        self._tasks.append(asyncio.create_task(positions, name="picture-positions"))
        self._tasks.append(asyncio.create_task(self._release_positions(), name="picture-held"))
        self._tasks.append(asyncio.create_task(self._resync_loop(), name="picture-resync"))

    async def _subscribe(self, stream: str, subject: str) -> None:
        """Follows `subject` from now on; waits for the stream (its service declares it)."""
        waited = False
        while True:
            try:
                info = await self._js.stream_info(stream)
                self._floor[stream] = info.state.last_seq
                sub = await self._js.subscribe(
                    subject,
                    stream=stream,
                    cb=functools.partial(self._on_message, stream),
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.NEW,
                    idle_heartbeat=5.0,
                )
                self._subs.append(sub)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no stream yet, or NATS not answering: try again
                if not waited:
                    log.info(
                        "waiting for stream %s (its service creates it)",
                        stream,
                        extra={"error": type(exc).__name__},
                    )
                    waited = True
                await asyncio.sleep(_RETRY_S)

    async def _on_message(self, stream: str, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self._floor.get(stream, 0):
            return
        self._floor[stream] = seq
        if self._held is not None:
            self._held.append(msg)
            return
        self._apply(msg)

    def _apply(self, msg: Msg) -> None:
        headers = msg.headers or {}
        try:
            event = EVENTS.decode(headers.get(HEADER_EVENT_TYPE), msg.data)
        except PoisonMessage as exc:
            log.warning("event skipped: %s", exc, extra={"subject": msg.subject})
            return
        # A consumer span in the event's trace: the screens seeing a change is the last
        # step of an incident's story.
        token = otel_context.attach(extract(headers))
        try:
            with _tracer.start_as_current_span(
                f"apply {subject_template(msg.subject)}",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": msg.subject,
                    **subject_attributes(headers),
                },
            ) as span:
                published = 0
                for change in changes_of(self._picture, event):
                    if change is not None:
                        self._publish(change)
                        published += 1
                span.set_attribute("icc.picture.changes", published)
        except Exception as exc:
            log.error("event not applied", extra={"subject": msg.subject, "error": repr(exc)})
        finally:
            otel_context.detach(token)

    async def _until_loaded(self) -> None:
        waited = False
        while True:
            try:
                await self.load()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not waited:
                    log.info(
                        "waiting for the services to read the picture",
                        extra={"error": str(exc)[:200]},
                    )
                    waited = True
                await asyncio.sleep(_RETRY_S)

    async def load(self) -> None:
        """Reads everything from the services and applies it (a first load or a resync)."""
        started = self._picture.cursor
        units = await self._units()
        hospitals = await self._services.call(
            "resources", self._services.resources.ListHospitals, resource_pb.ListHospitalsRequest()
        )
        incidents = await self._incidents(convert.OPEN_STATES)
        # Ended in the KPIs' window (kpis.py): the picture only buries them. After the
        # open ones, so that one that ended in between is seen ending.
        since = time.time() - self._picture.kpis.settings.window_s
        ended = await self._incidents(convert.ENDED_STATES, created_after=since)
        # Units first: incidents' assignments take their kind from them.
        for u in units:
            self._emit(put_unit(self._picture, u))
        for h in hospitals.hospitals:
            self._emit(put_hospital(self._picture, h))
        for i in (*incidents, *ended):
            self._emit(put_incident(self._picture, i))
        if self.loaded.is_set():
            open_ids = {id_of(i.name) for i in incidents}
            for change in self._picture.remove_missing_incidents(open_ids, started):
                self._emit(change)

    def _emit(self, change: Change | None) -> None:
        if change is not None:
            self._publish(change)

    async def _incidents(
        self,
        states: Iterable[incident_pb2.IncidentState.ValueType],
        created_after: float | None = None,
    ) -> list[incident_pb2.Incident]:
        found: list[incident_pb2.Incident] = []
        token = ""
        while True:
            request = incident_pb.ListIncidentsRequest(
                page_size=_PAGE, page_token=token, states=states
            )
            if created_after is not None:
                request.create_time.start_time.FromNanoseconds(int(created_after * 1e9))
            page = await self._services.call(
                "incidents", self._services.incidents.ListIncidents, request, timeout_s=15.0
            )
            found.extend(page.incidents)
            token = page.next_page_token
            if not token:
                return found

    async def _units(self) -> list[resource_pb2.Unit]:
        found: list[resource_pb2.Unit] = []
        token = ""
        while True:
            page = await self._services.call(
                "resources",
                self._services.resources.ListUnits,
                resource_pb.ListUnitsRequest(page_size=5000, page_token=token),
                timeout_s=15.0,
            )
            found.extend(page.units)
            token = page.next_page_token
            if not token:
                return found

    async def _resync_loop(self) -> None:
        """A full re-read every `resync_every_s`, and soon after NATS reconnects: events
        published while the connection was down reach the ordered consumers only once
        they notice and restart (up to two missed heartbeats)."""
        last = time.monotonic()
        reconnects = self._nc.stats["reconnects"]
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if self._nc.stats["reconnects"] != reconnects and self._nc.is_connected:
                reconnects = self._nc.stats["reconnects"]
                log.info("NATS reconnected: re-reading the picture")
            elif now - last < self._settings.resync_every_s:
                continue
            last = now
            try:
                await self.load()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("picture resync failed", extra={"error": str(exc)[:200]})

    # Positions

    def _on_position(self, key: str, report: UnitPositionReported) -> None:
        self._offer_position(id_of(report.unit) or key, report.position, time.monotonic())

    def _offer_position(self, unit_id: str, position: resource_pb2.Position, now: float) -> None:
        taken = convert.micros(position.report_time)
        shown = self._picture.unit_position_time(unit_id)
        if shown is None or taken <= shown:
            return  # an unknown unit (the next resync brings it) or an old report
        now_applied = self._throttle.offer(unit_id, position.lat, position.lon, taken, now)
        if now_applied is not None:
            self._emit(self._picture.move_unit(unit_id, *now_applied))

    async def _release_positions(self) -> None:
        """Positions held back by the throttle, applied when their unit's interval ends."""
        tick = max(0.02, min(0.1, self._settings.position_interval_s / 4))
        while True:
            await asyncio.sleep(tick)
            for unit_id, lat, lon, taken in self._throttle.due(time.monotonic()):
                self._emit(self._picture.move_unit(unit_id, lat, lon, taken))
