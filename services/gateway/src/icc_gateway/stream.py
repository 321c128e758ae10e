"""Fan-out of the picture's changes to screens as Server-Sent Events.

Each change is framed once (`id`, `event: change`, JSON `data`) and the same bytes go to
every screen. A screen has a bounded queue; one that falls too far behind is dropped
rather than slowing the others or filling memory, and its EventSource reconnects with
`Last-Event-ID` and is replayed what it missed from the picture's ring.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from opentelemetry import metrics

from icc_gateway.domain.model import Change, to_json
from icc_gateway.domain.picture import Picture

log = logging.getLogger(__name__)
_meter = metrics.get_meter("icc_gateway")
_screens = _meter.create_up_down_counter(
    "icc.gateway.screens", unit="{screen}", description="Screens following the live picture"
)
_dropped = _meter.create_counter(
    "icc.gateway.screens.dropped",
    unit="{screen}",
    description="Screens cut off for falling too far behind (they reconnect and resume)",
)
_changes = _meter.create_counter(
    "icc.gateway.picture.changes", unit="{change}", description="Changes of the picture, by kind"
)
_KINDS = {kind: {"kind": kind} for kind in ("incident", "unit", "hospital")}

# Frames a screen takes in one write when it has fallen behind.
_BATCH = 256
# First thing on a stream: EventSource reconnects after 2 s (browsers' default is ~3 s).
_RETRY = b"retry: 2000\n\n"


def change_frame(change: Change) -> bytes:
    return b"id: %d\nevent: change\ndata: %s\n\n" % (change.cursor, change.data)


class Screen:
    """One connected screen: its queue of frames, and whether it was dropped."""

    __slots__ = ("dropped", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=size)
        self.dropped = False


class Hub:
    def __init__(self, picture: Picture, *, queue_size: int = 2_000) -> None:
        self._picture = picture
        self._queue_size = queue_size
        self._screens: set[Screen] = set()
        self._snapshot: tuple[int, bytes] | None = None
        self.closed = False
        self.dropped_total = 0

    @property
    def screens(self) -> int:
        return len(self._screens)

    def publish(self, change: Change) -> None:
        """Send one change to every screen (called for every change, in cursor order)."""
        _changes.add(1, _KINDS[change.kind])
        if not self._screens:
            return
        frame = change_frame(change)
        for screen in list(self._screens):
            try:
                screen.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._drop(screen)

    def snapshot_json(self) -> bytes:
        """The `Picture` now, with the gateway's clock (`server_time`) for screens whose
        own clock is off. The picture's JSON is made once per cursor, however many
        screens (re)connect; only the time is added per request."""
        cursor = self._picture.cursor
        if self._snapshot is None or self._snapshot[0] != cursor:
            self._snapshot = (cursor, to_json(self._picture.snapshot()))
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return b'{"server_time":"%s",%s' % (now.encode(), self._snapshot[1][1:])

    def snapshot_frame(self) -> bytes:
        """The picture now as one `snapshot` event."""
        data = self.snapshot_json()
        return b"id: %d\nevent: snapshot\ndata: %s\n\n" % (self._picture.cursor, data)

    def connect(self, last_event_id: int | None) -> tuple[Screen, bytes]:
        """A new screen and what it gets first: the changes after `last_event_id` when the
        ring still has them all, else a snapshot. Registered in the same step, with no
        await in between, so no change falls between the two."""
        screen = Screen(self._queue_size)
        replay = None if last_event_id is None else self._picture.changes_after(last_event_id)
        first = self.snapshot_frame() if replay is None else b"".join(map(change_frame, replay))
        self._screens.add(screen)
        _screens.add(1)
        return screen, first

    def disconnect(self, screen: Screen) -> None:
        if screen in self._screens:
            self._screens.discard(screen)
            _screens.add(-1)

    def close(self) -> None:
        """Ends every stream (shutdown): waiting screens are woken to finish."""
        self.closed = True
        for screen in list(self._screens):
            self.disconnect(screen)
            screen.dropped = True
            if not screen.queue.full():
                screen.queue.put_nowait(b"")

    def _drop(self, screen: Screen) -> None:
        self.disconnect(screen)
        screen.dropped = True
        self.dropped_total += 1
        _dropped.add(1)
        log.info("screen dropped: too far behind", extra={"queued": screen.queue.qsize()})

    async def frames(self, screen: Screen, first: bytes) -> AsyncIterator[bytes]:
        """The bytes a screen's response sends, until it is dropped or disconnects."""
        try:
            if screen.dropped:
                return
            yield _RETRY + first
            queue = screen.queue
            while not screen.dropped:
                frame = await queue.get()
                if screen.dropped:
                    return
                if queue.empty():
                    yield frame
                    continue
                # Behind: what is queued goes out in one write.
                batch = [frame]
                while len(batch) < _BATCH and not queue.empty():
                    batch.append(queue.get_nowait())
                yield b"".join(batch)
        finally:
            self.disconnect(screen)
