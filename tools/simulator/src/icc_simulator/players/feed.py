"""What the simulator hears from the system, as a partner would: dispatch's events
(`icc.dispatch.>`: assignments, recommendations, releases, escalations) and unit
status changes (`icc.unit.status.>`), decoded by their `Icc-Event-Type` header.

Ordered push consumers from "now": every simulator instance needs every event, and
nothing before its start. Handlers are plain functions that must not block: they
update state and start tasks, so the stream is read as fast as it comes.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.resource.v1 import events_pb2 as resource_events

log = logging.getLogger(__name__)

HEADER_EVENT_TYPE = "Icc-Event-Type"
DISPATCH_SUBJECTS = "icc.dispatch.>"
UNIT_SUBJECTS = "icc.unit.status.>"
_DISPATCH_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        dispatch_events.UnitsRecommended,
        dispatch_events.UnitsAssigned,
        dispatch_events.AssignmentAcknowledged,
        dispatch_events.AssignmentEscalated,
        dispatch_events.UnitsReleased,
    )
}


def decode_dispatch(msg: Msg) -> Message | None:
    """The dispatch event in `msg`, or None for a type this simulator does not know."""
    cls = _DISPATCH_TYPES.get((msg.headers or {}).get(HEADER_EVENT_TYPE, ""))
    if cls is None:
        return None
    event = cls()
    try:
        event.ParseFromString(msg.data)
    except DecodeError:
        return None
    return event


def decode_unit(msg: Msg) -> resource_events.UnitStatusChanged | None:
    """The unit status change in `msg`, or None when it does not decode."""
    try:
        return resource_events.UnitStatusChanged.FromString(msg.data)
    except DecodeError:
        return None


@dataclass
class EventFeed:
    nc: Client
    on_dispatch: Callable[[Message], None]
    on_unit: Callable[[resource_events.UnitStatusChanged], None]
    errors: int = 0
    _subs: list[object] = field(default_factory=list)

    async def start(self, wait_s: float = 30.0) -> None:
        """Subscribes once the services have declared their streams."""
        js = self.nc.jetstream()
        deadline = asyncio.get_running_loop().time() + wait_s
        for stream in ("ICC_DISPATCH", "ICC_UNIT"):
            while True:
                try:
                    await js.stream_info(stream)
                    break
                except NotFoundError as exc:
                    if asyncio.get_running_loop().time() > deadline:
                        raise RuntimeError(
                            f"stream {stream} not found: are the services up?"
                        ) from exc
                    await asyncio.sleep(0.25)
        for subject, cb in ((DISPATCH_SUBJECTS, self._dispatch), (UNIT_SUBJECTS, self._unit)):
            sub = await js.subscribe(
                subject,
                cb=cb,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
                idle_heartbeat=5.0,
                # A burst (a surge scenario) must not overflow the client's buffer.
                pending_msgs_limit=1_000_000,
                pending_bytes_limit=512 * 1024 * 1024,
            )
            self._subs.append(sub)

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()  # type: ignore[attr-defined]
        self._subs.clear()

    async def _dispatch(self, msg: Msg) -> None:
        event = decode_dispatch(msg)
        if event is not None:
            self._handle(lambda: self.on_dispatch(event), "handling a dispatch event failed")

    async def _unit(self, msg: Msg) -> None:
        event = decode_unit(msg)
        if event is not None:
            self._handle(lambda: self.on_unit(event), "handling a unit status event failed")

    def _handle(self, handle: Callable[[], None], failure: str) -> None:
        """A handler's failure is counted and logged; the stream goes on."""
        try:
            handle()
        except Exception:
            self.errors += 1
            log.exception(failure)
