"""A service's write side in one piece: the database's one writer and its outbox relay."""

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy import Table

from icc_kernel.settings import flag
from icc_storage.batch import WriteBatcher
from icc_storage.database import Database
from icc_storage.outbox import COMMITTED_EVENTS, OutboxRelay


@dataclass
class Writer:
    batcher: WriteBatcher
    relay: OutboxRelay | None

    @classmethod
    def start(
        cls,
        db: Database,
        outbox: Table,
        js: JetStreamContext,
        *,
        relay_enabled: bool = True,
        inline_max_jobs: int = 2,
    ) -> "Writer":
        """Committed events go straight to the relay; with the relay off (maintenance,
        fault drills) they wait in the outbox for the next start. `inline_max_jobs`:
        see `icc_storage.batch`."""
        batcher = WriteBatcher(db, inline_max_jobs=inline_max_jobs)
        relay = OutboxRelay(db, outbox, js, batcher) if relay_enabled else None
        if relay is not None:
            batcher.on_commit(COMMITTED_EVENTS, relay.handoff)
        batcher.start()
        if relay is not None:
            relay.start()
        return cls(batcher, relay)

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
            # Whatever is still unsent goes out now rather than at the next start.
            with contextlib.suppress(Exception):
                while await self.relay.publish_pending():
                    pass
        await self.batcher.stop()


def relay_enabled_from_env(env: Mapping[str, str] = os.environ) -> bool:
    """`ICC_OUTBOX_RELAY=off` holds events in the outbox (maintenance, fault drills)."""
    return flag(env, "ICC_OUTBOX_RELAY", True)
