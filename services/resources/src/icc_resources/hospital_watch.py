"""WatchHospitals: hospital availability as it changes, served to gRPC callers.

The watch subscribes to the hospital events on JetStream first, then reads every
hospital: a change made meanwhile is sent after the snapshot (perhaps twice: the caller
keeps the newest by `etag`), never lost. There is no cursor: the state is small (one
message of every hospital), so a caller that reconnects simply starts again.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from icc.resource.v1 import events_pb2
from icc.resource.v1 import resource_service_pb2 as pb
from icc_resources import convert
from icc_resources.events import HOSPITAL_SUBJECT
from icc_resources.service import ResourceService

CHANGED = HOSPITAL_SUBJECT + "capacity_changed"


class HospitalWatch:
    def __init__(self, js: JetStreamContext, stream: str, service: ResourceService) -> None:
        self._js = js
        self._stream = stream
        self._service = service

    async def stream(
        self, subscribed: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[pb.WatchHospitalsResponse]:
        """Every hospital, then each change; `subscribed` is awaited once nothing can be
        missed."""
        sub = await self._js.subscribe(
            CHANGED,
            stream=self._stream,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
        )
        try:
            await subscribed()
            hospitals = await self._service.list_hospitals()
            yield pb.WatchHospitalsResponse(
                hospitals=[convert.hospital_to_proto(h) for h in hospitals], snapshot=True
            )
            async for msg in sub.messages:
                try:
                    event = events_pb2.HospitalCapacityChanged.FromString(msg.data)
                except DecodeError:
                    continue  # not ours to judge here: the DLQ tooling sees the stream
                yield pb.WatchHospitalsResponse(hospitals=[event.hospital])
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
