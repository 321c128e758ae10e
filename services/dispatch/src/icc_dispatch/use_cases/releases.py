"""Releasing units: recorded first (with the event), then made at the resources service,
then marked as made. A release lost in a crash is made again by `recovery` with the same
request id, answered from the resources service's request table."""

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.events import UnitsReleased
from icc_dispatch.domain.model import Actor, Assignment
from icc_dispatch.use_cases.ports import Records, ReleaseUnits, Writes
from icc_kernel.reasons import Reason

log = logging.getLogger(__name__)


async def record_release(
    writes: Writes,
    items: Iterable[Assignment],
    reason: Reason,
    actor: Actor,
    now: datetime,
) -> list[Assignment]:
    """Releases the active ones of `items` (one incident's) in the write's transaction,
    with their event; the units are then freed at the resources service
    (`Releases.free_at_resources`)."""
    released = [lifecycle.release(a, now, reason, tell_resources=True) for a in items if a.active]
    await writes.save_assignments(released)
    if released:
        writes.announce([UnitsReleased.of(released, actor, now)])
    return released


def _release_failed(exc: Exception) -> None:
    log.warning(
        "release at the resources service failed; will retry",
        extra={"error": type(exc).__name__},
    )


@dataclass
class Releases:
    records: Records
    release_units: ReleaseUnits

    async def free_at_resources(self, items: Iterable[Assignment]) -> None:
        """Releases the units at the resources service, then records in one write which
        releases were made. One incident's units go in one request (one write there);
        requests for different incidents go side by side."""
        groups: dict[tuple[str, str], list[Assignment]] = {}
        for a in items:
            if a.release_pending:
                groups.setdefault((a.incident_id, a.release_reason), []).append(a)
        if not groups:
            return
        answers = await asyncio.gather(
            *(self._release_together(group) for group in groups.values()),
            return_exceptions=True,
        )
        told: list[str] = []
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                raise answer
            if not isinstance(answer, BaseException):
                told.extend(answer)
        if told:

            async def done(writes: Writes) -> None:
                await writes.release_told(told)

            # Bookkeeping: it rides along with the next commit. Lost in a crash, the
            # release is made again with the same request id.
            self.records.write_later(done)

    async def _release_together(self, group: list[Assignment]) -> list[str]:
        """Releases one incident's units; returns the assignments the resources service
        is done with (released, or no longer ours there)."""
        group = sorted(group, key=lambda a: a.id)  # a repeated request is the same request
        first = group[0]
        if len(group) > 1:
            ids = "|".join(a.id for a in group)
            rid = "rel-" + hashlib.sha256(ids.encode()).hexdigest()[:40]
            try:
                if await self.release_units(
                    first.incident_id, [a.unit_id for a in group], rid, first.release_reason
                ):
                    return [a.id for a in group]
            except Exception as exc:
                _release_failed(exc)
                return []
            # Refused as a whole: one of the units is no longer this incident's there
            # (all or nothing). Each of the others is still released, alone.
        answers = await asyncio.gather(
            *(
                self.release_units(a.incident_id, [a.unit_id], f"rel-{a.id}", a.release_reason)
                for a in group
            ),
            return_exceptions=True,
        )
        told = []
        for a, answer in zip(group, answers, strict=True):
            if isinstance(answer, Exception):
                _release_failed(answer)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                told.append(a.id)
        return told
