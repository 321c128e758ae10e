"""`icc trace`: an incident's timeline in the terminal, grouped by the step of its life,
from the local trace sink's file or from any sink's query endpoint (`--sink`)."""

import sqlite3
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from icc_cli.arguments import IncidentArgument, incident_id_of
from icc_cli.certificates import ENGINEER
from icc_rpc import TlsConfig
from icc_tracesink.store import SpanStore, StoreMissing, default_db_path
from icc_tracesink.timeline import Timeline, load
from icc_tracesink.waterfall import render, total_ms


def trace(
    incident: IncidentArgument,
    db: Annotated[
        Path | None,
        typer.Option(help="The trace sink's database (default: $ICC_VAR_DIR/traces.db)."),
    ] = None,
    sink: Annotated[
        str | None,
        typer.Option(
            envvar="ICC_TRACESINK_QUERY_URL",
            help="A trace sink's query endpoint, e.g. https://tracesink:4320 (instead of --db), "
            "asked as the on-call engineer (ICC_TLS_CA/CERT/KEY, else var/pki/oncall.*).",
            show_default=False,
        ),
    ] = None,
    reads: Annotated[
        bool, typer.Option("--reads", help="Also the screen's own reads of the incident.")
    ] = False,
) -> None:
    """Show every span of an incident's traces as a waterfall, by step of its life."""
    out = Console(highlight=False)  # made here so that COLUMNS set by the caller counts
    incident_id = incident_id_of(incident)
    if sink:
        where = escape(sink)
        found = _from_sink(out, sink, incident_id, reads)
    else:
        path = db or default_db_path()
        where = escape(str(path))  # user input: its brackets are not rich markup
        found = _from_file(out, path, incident_id, reads)
    if not found.rows:
        out.print(
            f"No spans of incident {escape(incident_id)} in {where} yet. Services send spans in "
            "batches, so they arrive a few seconds after the work; try again shortly. "
            "(Services send spans to the sink only when ICC_OTLP_ENDPOINT points at it, "
            "as `make run` sets it.)"
        )
        raise typer.Exit(1)
    services = sorted({r.service for r in found.rows})
    out.print(
        f"[bold]incidents/{escape(incident_id)}[/]: {_count(len(found.traces), 'trace')} "
        f"{', '.join(found.traces)} · {_count(len(found.rows), 'span')} · "
        f"{_count(len(services), 'service')} ({', '.join(services)}) · "
        f"{total_ms(found.rows):.1f} ms in all"
    )
    out.print(render(found.rows, width=out.width, steps=True))
    if found.reads_hidden:
        out.print(
            f"[dim]{_count(found.reads_hidden, 'trace')} of the screen's own reads not shown "
            "(--reads shows them).[/]"
        )


def _from_file(out: Console, path: Path, incident_id: str, reads: bool) -> Timeline:
    shown = escape(str(path))
    try:
        store = SpanStore.open_readonly(path)
        try:
            return load(store, incident_id, reads=reads)
        finally:
            store.close()
    except StoreMissing:
        out.print(
            f"[red]✗[/] No trace database at {shown}. Start the system with `make run` (it "
            "starts the trace sink), work on an incident, then run `icc trace` again; "
            "or point --db at the sink's file, or --sink at a sink's query endpoint."
        )
        raise typer.Exit(1) from None
    except sqlite3.DatabaseError as exc:
        out.print(
            f"[red]✗[/] Cannot read {shown}: {escape(str(exc))}. Is it the trace sink's database?"
        )
        raise typer.Exit(1) from None


def _from_sink(out: Console, sink: str, incident_id: str, reads: bool) -> Timeline:
    url = f"{sink.rstrip('/')}/incidents/{incident_id}/waterfall"
    try:
        # The sink answers timelines to an engineer's (or the gateway's) certificate only.
        verify = TlsConfig.from_env(ENGINEER).https_context()
    except OSError as exc:
        out.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    try:
        reply = httpx.get(url, params={"reads": "1"} if reads else None, timeout=10, verify=verify)
        reply.raise_for_status()
        return Timeline.from_json(reply.json())
    except (httpx.HTTPError, ValueError) as exc:
        out.print(f"[red]✗[/] The trace sink at {escape(url)} did not answer a timeline: {exc}")
        raise typer.Exit(1) from None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
