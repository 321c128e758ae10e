"""Dispatcher accounts and their sessions (the roles are in domain/roles.py).

Passwords are hashed with argon2id (argon2-cffi's defaults); a session is a random token
in an HttpOnly cookie, stored only as its SHA-256, valid for one shift (12 h by default).
Hashing takes tens of milliseconds on purpose, so it runs on a worker thread, never on
the event loop that serves every screen.
"""

import asyncio
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update

from icc_gateway.domain.roles import AGENCIES, Role, User
from icc_gateway.store import sessions, users
from icc_kernel.clock import as_utc
from icc_storage import Database

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# A session's last-seen time is written at most this often: not a write per request.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role


# Dev only (README): created on first start unless ICC_GATEWAY_DEMO_USERS=0.
DEMO_PASSWORD = "icc-demo"
DEMO_USERS = (
    DemoUser("supervisor", "Giám sát viên (demo)", Role.SUPERVISOR),
    DemoUser("dispatcher", "Điều phối viên (demo)", Role.DISPATCHER),
    DemoUser("calltaker", "Tiếp nhận cuộc gọi (demo)", Role.CALL_TAKER),
    DemoUser("viewer", "Người xem (demo)", Role.VIEWER),
)


class AccountError(ValueError):
    """A bad account definition (name, role or agency); the message says which."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: Any) -> User:
    return User(
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        agency=row.agency,
    )


class Accounts:
    def __init__(
        self,
        db: Database,
        *,
        session_ttl: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._db = db
        self._ttl = session_ttl
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        # Verified against for unknown names, so that a wrong name takes as long as a
        # wrong password and the answer cannot tell which one was wrong.
        self._decoy: str | None = None

    @property
    def session_ttl(self) -> timedelta:
        return self._ttl

    async def add_user(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        agency: str = "COMMAND_CENTER",
        display_name: str = "",
    ) -> User:
        if not USERNAME.match(username):
            raise AccountError(
                "username: 1-64 characters, lower-case letters, digits and . _ - "
                "(starting with a letter or digit)"
            )
        if agency not in AGENCIES:
            raise AccountError(f"agency: one of {', '.join(AGENCIES)}")
        if len(password) < 8 and password != DEMO_PASSWORD:
            raise AccountError("password: at least 8 characters")
        digest = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            username=username, display_name=display_name or username, role=role, agency=agency
        )
        async with self._db.write() as conn:
            await conn.execute(
                insert(users).values(
                    username=user.username,
                    display_name=user.display_name[:200],
                    role=user.role.value,
                    agency=user.agency,
                    password_hash=digest,
                    create_time=self._clock(),
                )
            )
        return user

    async def count(self) -> int:
        async with self._db.read() as conn:
            found: int = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
        return found

    async def exists(self, username: str) -> bool:
        async with self._db.read() as conn:
            found = await conn.execute(select(users.c.username).where(users.c.username == username))
            return found.first() is not None

    async def ensure_demo_users(self) -> list[str]:
        """Creates the demo accounts when there is no account at all; returns their names."""
        if await self.count():
            return []
        for demo in DEMO_USERS:
            await self.add_user(
                demo.username, DEMO_PASSWORD, demo.role, display_name=demo.display_name
            )
        return [d.username for d in DEMO_USERS]

    async def login(self, username: str, password: str) -> tuple[User, str] | None:
        """The user and a new session token, or None for a wrong name or password."""
        async with self._db.read() as conn:
            row = (await conn.execute(select(users).where(users.c.username == username))).first()
        if row is None:
            await asyncio.to_thread(self._verify_unknown, password)
            return None
        if not await asyncio.to_thread(self._verify, row.password_hash, password):
            return None
        user = _user(row)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._db.write() as conn:
            await conn.execute(delete(sessions).where(sessions.c.expire_time < now))
            await conn.execute(
                insert(sessions).values(
                    token_hash=_token_hash(token),
                    username=user.username,
                    create_time=now,
                    expire_time=now + self._ttl,
                    last_seen_time=now,
                )
            )
            if self._hasher.check_needs_rehash(row.password_hash):
                digest = await asyncio.to_thread(self._hasher.hash, password)
                await conn.execute(
                    update(users)
                    .where(users.c.username == user.username)
                    .values(password_hash=digest)
                )
        return user, token

    async def user_for(self, token: str) -> User | None:
        """The signed-in user of a session token; None when unknown or expired."""
        if not token or len(token) > 100:
            return None
        key = _token_hash(token)
        async with self._db.read(inline=True) as conn:
            row = (
                await conn.execute(
                    select(
                        users.c.username,
                        users.c.display_name,
                        users.c.role,
                        users.c.agency,
                        sessions.c.expire_time,
                        sessions.c.last_seen_time,
                    )
                    .select_from(sessions.join(users))
                    .where(sessions.c.token_hash == key)
                )
            ).first()
        if row is None:
            return None
        now = self._clock()
        if as_utc(row.expire_time) <= now:
            return None
        if now - as_utc(row.last_seen_time) >= _TOUCH_EVERY:
            async with self._db.write() as conn:
                await conn.execute(
                    update(sessions).where(sessions.c.token_hash == key).values(last_seen_time=now)
                )
        return _user(row)

    async def logout(self, token: str) -> None:
        if not token:
            return
        async with self._db.write() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(digest, password))
        except (VerificationError, InvalidHashError):
            return False

    def _verify_unknown(self, password: str) -> None:
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        self._verify(self._decoy, password)
