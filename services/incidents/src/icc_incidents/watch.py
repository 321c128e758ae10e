"""WatchIncidents: the incident stream on JetStream, served to gRPC callers.

The cursor holds the JetStream stream sequence of the last event a caller saw, signed
like a page token (`icc_rpc.convert`), so a caller that reconnects with it resumes with
the next event: no gap, no repeat. It is a place in the stream, not in a filtered view:
a caller may resume with other agencies. The stream's headers are sent once the watch is
subscribed: a caller that waits for them misses nothing published afterwards.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from icc.incident.v1 import incident_service_pb2 as pb
from icc_bus import EventTypes, PoisonMessage, StreamSpec
from icc_incidents.events import ACTIONS, EVENT_TYPES, SUBJECT_PREFIX
from icc_kernel.principals import Scope
from icc_kernel.vocabulary import Agency
from icc_rpc.convert import decode_page_token, encode_page_token

INCIDENT_STREAM = StreamSpec(
    name="ICC_INCIDENT",
    subjects=[SUBJECT_PREFIX + ">"],
    description="Incident events published by the incidents service",
)


_KNOWN_AGENCIES = {int(a) for a in Agency}


WATCH_INCIDENTS = "WatchIncidents"


def parse_cursor(cursor: str) -> int | None:
    """The stream sequence to start *after*; None for "from now on"."""
    if not cursor:
        return None
    return decode_page_token(cursor, WATCH_INCIDENTS, field="cursor").number(0)


def cursor_of(sequence: int) -> str:
    return encode_page_token(WATCH_INCIDENTS, (sequence,))


class IncidentWatch:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._types = EventTypes(EVENT_TYPES)

    async def stream(
        self,
        cursor: str,
        agencies: set[Agency],
        subscribed: Callable[[], Awaitable[None]],
        scope: Scope,
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        """Events after `cursor` (from now on when empty) about incidents that involve one
        of `agencies` (any when empty) and that the caller's `scope` sees, as its reads do
        (a partner: its agency's incidents; drills only to those taking part); `subscribed`
        is awaited once nothing can be missed."""
        after = parse_cursor(cursor)
        # Nothing at or below the floor is ever sent: the ordered consumer restarts
        # from the last sequence *it* saw, which is 0 if nothing came yet (it would
        # replay the stream from the start after a server restart).
        floor = after
        if floor is None:
            floor = (await self._js.stream_info(INCIDENT_STREAM.name)).state.last_seq
        if after is None:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        else:
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1
            )
        sub = await self._js.subscribe(
            SUBJECT_PREFIX + ">",
            stream=INCIDENT_STREAM.name,
            ordered_consumer=True,
            config=config,
        )
        try:
            await subscribed()
            async for msg in sub.messages:
                action = msg.subject.removeprefix(SUBJECT_PREFIX)
                seq = msg.metadata.sequence.stream
                if seq <= floor:
                    continue
                floor = seq
                if action not in ACTIONS:
                    continue
                try:
                    event = self._types.decode((msg.headers or {}).get("Icc-Event-Type"), msg.data)
                except PoisonMessage:
                    continue
                incident = event.incident  # type: ignore[attr-defined]
                involved = {
                    Agency(a)
                    for a in (*incident.agencies, *(x.agency for x in incident.assignments))
                    if a in _KNOWN_AGENCIES
                }
                if agencies and not agencies.intersection(involved):
                    continue
                if not scope.sees_incident(involved, incident.exercise):
                    continue
                response = pb.WatchIncidentsResponse(cursor=cursor_of(seq))
                getattr(response, action).CopyFrom(event)
                yield response
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
