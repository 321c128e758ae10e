"""Public warnings kept and published: each issue, update or cancellation is stored with
its CAP message, in one transaction, after the message has passed the OASIS schema.

The rules are in domain/warnings.py, the XML in cap.py; this module reads and writes the
gateway's own tables (store.py).
"""

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_city.gazetteer import gazetteer
from icc_gateway import cap
from icc_gateway.domain import warnings as w
from icc_gateway.store import warning_messages, warnings
from icc_kernel.clock import as_utc, utc_now
from icc_kernel.errors import ConcurrentChange, NotFound
from icc_storage import Database

# The wards and communes a warning may name (the gazetteer's, as the call form's).
KNOWN_WARDS = frozenset(p.ward for p in gazetteer().places if p.kind in ("ward", "commune"))


def _state(warning: w.PublicWarning) -> str:
    data = asdict(warning)
    data["draft"]["expires"] = warning.draft.expires.isoformat()
    data["messages"] = [
        {"identifier": m.identifier, "sent": m.sent.isoformat(), "msg_type": m.msg_type.value}
        for m in warning.messages
    ]
    return json.dumps(data, ensure_ascii=False)


def _text(d: dict[str, Any]) -> w.Text:
    return w.Text(**d)


def _warning(text: str) -> w.PublicWarning:
    data = json.loads(text)
    d = data["draft"]
    draft = w.WarningDraft(
        category=w.Category(d["category"]),
        urgency=w.Urgency(d["urgency"]),
        severity=w.Severity(d["severity"]),
        certainty=w.Certainty(d["certainty"]),
        vi=_text(d["vi"]),
        en=_text(d["en"]),
        areas=tuple(
            w.Area(
                a["description_vi"],
                a["description_en"],
                tuple(tuple((p[0], p[1]) for p in polygon) for polygon in a["polygons"]),
                tuple(w.Circle(**c) for c in a["circles"]),
                tuple(a["wards"]),
            )
            for a in d["areas"]
        ),
        expires=datetime.fromisoformat(d["expires"]),
        exercise=d["exercise"],
    )
    messages = tuple(
        w.Message(m["identifier"], datetime.fromisoformat(m["sent"]), w.MessageType(m["msg_type"]))
        for m in data["messages"]
    )
    return w.PublicWarning(data["id"], draft, messages, data["issued_by"])


class PublicWarnings:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def _load(self, conn: AsyncConnection, warning_id: str) -> w.PublicWarning | None:
        row = (
            await conn.execute(select(warnings.c.state).where(warnings.c.id == warning_id))
        ).first()
        return _warning(row.state) if row else None

    async def get(self, warning_id: str) -> w.PublicWarning:
        async with self._db.read() as conn:
            found = await self._load(conn, warning_id)
        if found is None:
            raise NotFound(f"warnings/{warning_id}")
        return found

    async def issue(
        self, draft: w.WarningDraft, *, warning_id: str, by: str
    ) -> tuple[w.PublicWarning, bool]:
        """(warning, created): the same id again answers the warning issued then."""
        try:
            async with self._db.write() as conn:
                known = await self._load(conn, warning_id)
                if known is not None:
                    return known, False
                warning = w.issue(
                    draft, warning_id=warning_id, by=by, now=self._clock(), known_wards=KNOWN_WARDS
                )
                await self._save(conn, warning, new=True)
        except IntegrityError:
            # The same id issued at the same moment through another request: that one.
            return await self.get(warning_id), False
        return warning, True

    async def update(self, warning_id: str, draft: w.WarningDraft) -> w.PublicWarning:
        return await self._change(
            warning_id,
            lambda known: w.update(known, draft, now=self._clock(), known_wards=KNOWN_WARDS),
        )

    async def cancel(self, warning_id: str) -> w.PublicWarning:
        return await self._change(warning_id, lambda known: w.cancel(known, now=self._clock()))

    async def _change(
        self, warning_id: str, apply: Callable[[w.PublicWarning], w.PublicWarning]
    ) -> w.PublicWarning:
        try:
            async with self._db.write() as conn:
                known = await self._load(conn, warning_id)
                if known is None:
                    raise NotFound(f"warnings/{warning_id}")
                warning = apply(known)
                await self._save(conn, warning, new=False)
        except IntegrityError as exc:
            # Two changes at once: the second message's identifier is taken.
            raise ConcurrentChange(
                f"warning {warning_id} was changed at the same moment; read it again"
            ) from exc
        return warning

    async def _save(self, conn: AsyncConnection, warning: w.PublicWarning, *, new: bool) -> None:
        document = cap.to_cap(warning)
        faults = cap.faults(document)
        if faults:
            # A message ICC cannot publish is a bug here, not the supervisor's input.
            raise AssertionError(f"CAP message does not conform: {faults[:3]}")
        values = {
            "exercise": warning.draft.exercise,
            "expires": warning.draft.expires,
            "state": _state(warning),
            "update_time": warning.current.sent,
        }
        if new:
            await conn.execute(insert(warnings).values(id=warning.id, **values))
        else:
            await conn.execute(update(warnings).where(warnings.c.id == warning.id).values(**values))
        await conn.execute(
            insert(warning_messages).values(
                identifier=warning.current.identifier,
                warning_id=warning.id,
                sent=warning.current.sent,
                document=document.decode("utf-8"),
            )
        )

    async def listed(self, *, drills: bool, limit: int = 200) -> list[w.PublicWarning]:
        """Unexpired warnings, newest first; `drills`: exercises too (staff only)."""
        now = self._clock()
        query = select(warnings.c.state).where(warnings.c.expires > now)
        if not drills:
            query = query.where(warnings.c.exercise.is_(False))
        query = query.order_by(warnings.c.update_time.desc()).limit(limit)
        async with self._db.read() as conn:
            return [_warning(r.state) for r in await conn.execute(query)]

    async def message(self, warning_id: str, *, drills: bool) -> bytes:
        """The warning's current CAP message as published (a drill's only if `drills`)."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(warning_messages.c.document, warnings.c.exercise, warnings.c.expires)
                    .join(warnings, warnings.c.id == warning_messages.c.warning_id)
                    .where(warning_messages.c.warning_id == warning_id)
                    .order_by(warning_messages.c.sent.desc(), warning_messages.c.identifier.desc())
                    .limit(1)
                )
            ).first()
        if row is None or (row.exercise and not drills):
            raise NotFound(f"warnings/{warning_id}")
        if not drills and as_utc(row.expires) <= self._clock():
            raise NotFound(f"warnings/{warning_id}", "it has expired")
        return str(row.document).encode("utf-8")

    async def feed(self, base_url: str) -> bytes:
        return cap.to_atom(await self.listed(drills=False), base_url=base_url, now=self._clock())
