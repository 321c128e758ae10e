"""`icc dlq`: dead letters listed, shown decoded, replayed to their consumer or discarded,
straight over NATS (the ops service's DeadLetterService does the same over gRPC; both
write the one audit). Works while services are down, as an on-call engineer needs."""

import asyncio
import getpass
import json
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import nats
import typer
from nats.errors import Error as NatsError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from icc_bus import BusConfig
from icc_cli.arguments import local_endpoint
from icc_cli.local_secrets import local_nats_user
from icc_kernel.errors import DomainError
from icc_ops.deadletters import DeadLetter, DeadLetterQueue, Gone
from icc_ops.payloads import Undecodable, decode

T = TypeVar("T")
dlq = typer.Typer(
    help="Dead letters: events a consumer could not handle (stream ICC_DLQ).",
    no_args_is_help=True,
)
console = Console(highlight=False)

Nats = Annotated[
    str | None,
    typer.Option(
        "--nats",
        envvar="ICC_NATS_URL",
        help="The bus (default: the one `icc run` started, from $ICC_VAR_DIR/endpoints.json).",
        show_default=False,
    ),
]
Who = Annotated[
    str | None,
    typer.Option("--as", help="Who acts, for the audit (default: user@host).", show_default=False),
]
Sequence = Annotated[
    str, typer.Argument(help="The dead letter: its number, or deadLetters/N.", show_default=False)
]


def _nats_url(given: str | None) -> str:
    return local_endpoint(given, "nats", "nats://127.0.0.1:14222")


def _credentials(config: BusConfig, url: str | None) -> tuple[str | None, str | None]:
    """ICC_NATS_USER/ICC_NATS_PASSWORD when set; else, on the bus `icc run` started, its
    `ops` user (the people who look after dead letters)."""
    if config.user or url:
        return config.user, config.password
    local = local_nats_user(Path(os.environ.get("ICC_VAR_DIR", "var")).resolve(), "ops")
    return local if local else (None, None)


def _on_queue(url: str | None, work: Callable[[DeadLetterQueue], Awaitable[T]]) -> T:
    """Runs `work` on the dead letters of the bus at `url`; says what went wrong, if."""
    config = BusConfig.from_env()
    target = _nats_url(url)
    user, password = _credentials(config, url)

    async def run() -> T:
        nc = await nats.connect(
            BusConfig(target).servers,
            name="icc-cli",
            user=user,
            password=password,
            connect_timeout=3,
            allow_reconnect=False,
        )
        try:
            queue = DeadLetterQueue(nc.jetstream())
            await queue.ensure(config.replicas)
            return await work(queue)
        finally:
            await nc.close()

    try:
        return asyncio.run(run())
    except Gone as exc:
        last = exc.last
        if last is not None and last.action == "replay":
            console.print(f"Nothing to do: {escape(str(exc))}.")
            raise typer.Exit(0) from None
        console.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except DomainError as exc:
        console.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except (OSError, NatsError) as exc:
        console.print(
            f"[red]✗[/] Cannot reach the bus at {escape(target)}: {escape(str(exc) or repr(exc))}. "
            "Is `icc run` running? Or give --nats (ICC_NATS_URL, and ICC_NATS_USER and "
            "ICC_NATS_PASSWORD for a deployment)."
        )
        raise typer.Exit(1) from None


def _sequence(text: str) -> int:
    value = text.strip().removeprefix("deadLetters/")
    if not value.isdigit() or int(value) < 1:
        console.print(
            f"[red]✗[/] {escape(text)} is not a dead letter's number (see `icc dlq list`)."
        )
        raise typer.Exit(2)
    return int(value)


def _who(given: str | None) -> str:
    return given or f"{getpass.getuser()}@{socket.gethostname()} (cli)"


def _when(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@dlq.command("list")
def list_(
    consumer: Annotated[str, typer.Option(help="Only this consumer's (dispatch-incidents).")] = "",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    url: Nats = None,
) -> None:
    """The dead letters, oldest first: consumer, subject, reason, deliveries, failures."""
    letters = _on_queue(url, lambda q: q.list(consumer, limit=limit))
    if not letters:
        console.print("No dead letters." if not consumer else f"No dead letters of {consumer}.")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("#", "consumer", "subject", "event", "reason", "deliveries", "first failure",
                   "last failure", "replays"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for d in letters:
        table.add_row(
            str(d.sequence),
            d.consumer,
            d.subject,
            d.event_type.rpartition(".")[2],
            d.reason,
            str(d.deliveries),
            _when(d.first_failure),
            _when(d.last_failure),
            str(d.replays),
        )
    console.print(table)


@dlq.command()
def show(sequence: Sequence, url: Nats = None) -> None:
    """One dead letter, with its event decoded from its protobuf type."""
    letter = _on_queue(url, lambda q: q.get(_sequence(sequence)))
    _describe(letter)
    try:
        console.print_json(json.dumps(decode(letter.event_type, letter.payload)))
    except Undecodable as exc:
        console.print(f"[red]✗[/] The payload ({len(letter.payload)} bytes) does not decode: {exc}")


def _describe(d: DeadLetter) -> None:
    for label, value in (
        ("dead letter", d.name),
        ("consumer", d.consumer),
        ("subject", d.subject),
        ("event", f"{d.event_type} {d.event_id}".strip()),
        ("reason", d.reason),
        ("deliveries", str(d.deliveries)),
        ("first failure", _when(d.first_failure)),
        ("last failure", _when(d.last_failure)),
        ("replays before", str(d.replays)),
    ):
        console.print(f"[bold]{label:>15}[/]  {escape(value)}")


@dlq.command()
def replay(sequence: Sequence, who: Who = None, url: Nats = None) -> None:
    """Re-deliver a dead letter to the consumer it came from, and remove it (audited)."""
    letter, delivered = _on_queue(url, lambda q: q.replay(_sequence(sequence), _who(who)))
    if delivered:
        console.print(
            f"[green]✓[/] {letter.name} replayed to {letter.consumer} "
            f"({letter.event_type.rpartition('.')[2]} {letter.event_id})"
        )
    else:
        console.print(f"{letter.name} had been replayed already; removed, nothing delivered again.")


@dlq.command()
def discard(
    sequence: Sequence,
    reason: Annotated[str, typer.Option(help="Why it is dropped, for the audit.")],
    who: Who = None,
    url: Nats = None,
) -> None:
    """Remove a dead letter without re-delivering it (audited)."""
    if not reason.strip():
        console.print("[red]✗[/] Say why with --reason.")
        raise typer.Exit(2)
    letter = _on_queue(url, lambda q: q.discard(_sequence(sequence), _who(who), reason.strip()))
    console.print(f"[green]✓[/] {letter.name} discarded ({letter.consumer}, {letter.subject})")


@dlq.command()
def audit(limit: Annotated[int, typer.Option(min=1, max=1000)] = 50, url: Nats = None) -> None:
    """Who replayed or discarded which dead letter, and when (newest last)."""
    records = _on_queue(url, lambda q: q.audit.history(limit))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("when", "who", "what", "#", "consumer", "event", "reason"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(r.at, r.who, r.outcome, str(r.dead_letter), r.consumer, r.event_id, r.reason)
    console.print(table if records else "Nothing was done to dead letters yet.")
