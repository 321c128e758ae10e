"""Dispatcher accounts from the command line (the demo accounts are for development only).

    python -m icc_gateway.users add lan.nguyen --role dispatcher --agency FIRE --name "Nguyễn Lan"
    python -m icc_gateway.users list
    python -m icc_gateway.users unlock lan.nguyen [--address 192.0.2.7]

`unlock` lifts a sign-in lock (too many wrong passwords) at once, for the account and,
if named, a client address: a supervisor's answer to a dispatcher locked out mid-shift.

The password is asked for (not echoed), or read from standard input when it is not a
terminal. The database is the gateway's own (`ICC_GATEWAY_DB_URL`, default under
`ICC_VAR_DIR`).
"""

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from icc_gateway.accounts import AccountError, Accounts
from icc_gateway.domain.roles import AGENCIES, Role
from icc_gateway.store import users
from icc_gateway.throttle import LoginThrottle, sign_in_keys
from icc_storage import Database, database_url_from_env, upgrade


async def _add(db: Database, args: argparse.Namespace, password: str) -> str:
    user = await Accounts(db).add_user(
        args.username, password, Role(args.role), agency=args.agency, display_name=args.name
    )
    return f"added {user.username} ({user.role.value}, {user.agency})"


async def _list(db: Database) -> str:
    async with db.read() as conn:
        rows = (await conn.execute(select(users).order_by(users.c.username))).all()
    return "\n".join(f"{r.username}\t{r.role}\t{r.agency}\t{r.display_name}" for r in rows)


async def _unlock(db: Database, args: argparse.Namespace) -> str:
    account, place = sign_in_keys(args.username, args.address or "")
    lifted = await LoginThrottle(db).forget([account, place] if args.address else [account])
    return (
        f"unlocked {args.username}"
        + (f" and {args.address}" if args.address else "")
        + ("" if lifted else " (nothing was locked or counted)")
    )


async def _run(args: argparse.Namespace, url: str, password: str) -> str:
    db = Database(url)
    try:
        await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
        if args.command == "add":
            return await _add(db, args, password)
        if args.command == "unlock":
            return await _unlock(db, args)
        return await _list(db)
    finally:
        await db.dispose()


def _password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise AccountError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m icc_gateway.users", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a dispatcher account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--agency", default="COMMAND_CENTER", choices=AGENCIES)
    add.add_argument("--name", default="", help="display name")
    commands.add_parser("list", help="list the accounts")
    unlock = commands.add_parser("unlock", help="lift a sign-in lock (too many wrong passwords)")
    unlock.add_argument("username")
    unlock.add_argument("--address", default="", help="also this client address's lock")
    args = parser.parse_args(argv)
    try:
        password = _password() if args.command == "add" else ""
        print(asyncio.run(_run(args, database_url_from_env("gateway", env), password)))
    except AccountError as exc:
        print(f"icc-gateway users: {exc}", file=sys.stderr)
        return 2
    except IntegrityError:
        print(f"icc-gateway users: {args.username} already exists", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
