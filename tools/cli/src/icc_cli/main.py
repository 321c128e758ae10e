"""The `icc` command line."""

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from icc_cli import cluster as topology
from icc_cli.audit import audit
from icc_cli.config import StackConfig
from icc_cli.dlq import dlq
from icc_cli.pki import pki_app
from icc_cli.readiness import StackError
from icc_cli.simulate import simulate
from icc_cli.stack import Stack
from icc_cli.status import alive, check, engineer_credentials, engineer_https, table
from icc_cli.supervisor import Manifest, manifest_path
from icc_cli.trace import trace
from icc_kernel.settings import SettingError, flag

app = typer.Typer(
    help="ICC, the Integrated Command Center for Ho Chi Minh City.", no_args_is_help=True
)
console = Console()
app.command()(simulate)
app.command()(trace)
app.command()(audit)
app.add_typer(dlq, name="dlq")
app.add_typer(pki_app, name="pki")


@app.callback()
def main() -> None:
    """ICC command line."""


@app.command()
def run(
    cluster: bool = typer.Option(
        False,
        "--cluster",
        help="The deployment's topology: three nats-servers on deploy/nats/nats.conf and two "
        "replicas of every service (PostgreSQL where ICC_<SERVICE>_DB_URL says, else the "
        "replicas share a SQLite file).",
    ),
) -> None:
    """Start the whole system locally: nats-server, trace sink, every service and the
    gateway with the dispatcher screen (Ctrl-C stops it)."""
    config = StackConfig.from_env()
    stack = Stack(config)
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    # SIGHUP: the terminal closed.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        _start(stack, config, cluster)
        endpoints = stack.write_endpoints()
        _announce_and_simulate(stack, config, endpoints, cluster)
        named: set[str] = set()
        while not stopping:
            for exited in stack.exited():
                message = (
                    f"{exited.name} stopped unexpectedly (exit code {exited.process.returncode}); "
                    f"see {exited.log_path}"
                )
                if not cluster:
                    raise StackError(message)
                # A cluster is there to lose a part: the others carry on.
                if exited.name not in named:
                    named.add(exited.name)
                    console.print(f"[red]✗ {message}[/]; the others carry on")
            time.sleep(0.5)
        console.print("Stopping ...")
    except StackError as exc:
        console.print(f"[red]✗ {exc}[/]")
        _stop(stack)
        raise typer.Exit(1) from None
    except BaseException:
        _stop(stack)
        raise
    _stop(stack)
    console.print("[green]✓[/] stopped")


def _stop(stack: Stack) -> None:
    started = time.monotonic()
    stopped = stack.stop()
    if stopped.killed:
        console.print(f"[red]✗[/] did not stop in time, killed: {', '.join(stopped.killed)}")
    slowest = stopped.slowest()
    console.print(
        f"(stopped in {time.monotonic() - started:.1f} s"
        + (f"; slowest: {slowest[0]}, {slowest[1]:.1f} s)" if slowest else ")")
    )


@app.command()
def status() -> None:
    """Each process `icc run` started: alive, healthy (gRPC health, HTTP, NATS monitoring),
    and its log. Exits 1 unless everything is well."""
    var_dir = StackConfig.from_env().var_dir
    path = manifest_path(var_dir)
    if not path.exists():
        console.print(f"icc run is not running with {escape(str(var_dir))} (no {path.name}).")
        raise typer.Exit(1)
    manifest = Manifest.read(path)
    pki_dir = StackConfig.from_env().pki_dir
    statuses = check(manifest, engineer_credentials(pki_dir), engineer_https(pki_dir))
    running = alive(manifest.supervisor)
    if running:
        console.print(f"icc run (pid {manifest.supervisor}) is running:")
    else:
        console.print(
            f"[red]✗[/] icc run (pid {manifest.supervisor}) is not running; what it started:"
        )
    console.print(table(statuses))
    if not (running and all(s.health.ok for s in statuses)):
        raise typer.Exit(1)


def _start(stack: Stack, config: StackConfig, cluster: bool) -> None:
    """The certificates, the bus, the trace sink, each service and the gateway, each ready
    before the next; in a cluster, three nats-servers and each replica in turn."""
    if cluster:
        try:
            topology.replicas_target(config.host, 0)
        except ValueError as exc:
            raise StackError(f"{exc} (ICC_HOST)") from None
    with console.status("Making the local certificates (var/pki) ..."):
        tls = stack.ensure_pki()
    console.print(
        f"[green]✓[/] certificates in {config.pki_dir} ({len(tls['identities'])} identities, "
        "mutual TLS on every gRPC port)"
    )
    _start_bus(stack, config, cluster)
    with console.status("Starting the trace sink (OTLP/gRPC) ..."):
        stack.start_tracesink()
    console.print(f"[green]✓[/] trace sink on {config.otlp_endpoint} (spans in {config.traces_db})")
    replicas: list[int | None] = list(range(topology.REPLICAS)) if cluster else [None]
    _start_services(stack, config, replicas)
    for replica in replicas:
        which = "gateway" if replica is None else f"gateway replica {replica + 1}"
        with console.status(f"Starting the {which} (accounts, the live picture, the screen) ..."):
            stack.start_gateway(replica)
        at = topology.replica_port(config.gateway_port, replica or 0)
        console.print(f"[green]✓[/] {which} on http://{config.host}:{at}/")


def _start_bus(stack: Stack, config: StackConfig, cluster: bool) -> None:
    """One nats-server, or the cluster's three."""
    if cluster:
        with console.status("Starting three nats-servers (JetStream, deploy/nats/nats.conf) ..."):
            nodes = stack.start_nats_cluster()
        console.print(
            f"[green]✓[/] NATS cluster on {', '.join(n.url for n in nodes)} "
            f"(data in {config.var_dir / 'nats-cluster'})"
        )
    else:
        with console.status("Starting nats-server (JetStream) ..."):
            stack.start_nats()
        console.print(
            f"[green]✓[/] nats-server on {config.nats_url} (data in {config.var_dir / 'nats'})"
        )


def _start_services(stack: Stack, config: StackConfig, replicas: list[int | None]) -> None:
    """Each service in turn (every replica of one before the next), in the order they need
    each other: dispatch reads the resources service."""
    resources_target = stack.target(config.resources_port)
    for name, port, metrics_port, what, env in (
        (
            "incidents",
            config.incidents_port,
            config.incidents_metrics_port,
            "migrations, streams",
            {},
        ),
        (
            "resources",
            config.resources_port,
            config.resources_metrics_port,
            "migrations, the city's stations and fleet",
            {},
        ),
        (
            "dispatch",
            config.dispatch_port,
            config.dispatch_metrics_port,
            "response plans, the fleet view, auto-dispatch of P1/P2",
            {"ICC_RESOURCES_TARGET": resources_target},
        ),
        (
            "ops",
            config.ops_port,
            config.ops_metrics_port,
            "dead letters for supervisors",
            {},
        ),
    ):
        for replica in replicas:
            which = name if replica is None else f"{name} replica {replica + 1}"
            with console.status(f"Starting the {which} service ({what}) ..."):
                stack.start_service(name, port, metrics_port, env, replica=replica)
            at = topology.replica_port(port, replica or 0)
            console.print(f"[green]✓[/] {which} on {config.host}:{at}")


def _announce_and_simulate(
    stack: Stack, config: StackConfig, endpoints: Path, cluster: bool
) -> None:
    """The addresses, then the simulator (it reads them from the file), then how to use it."""
    table = Table(title="ICC is running", show_header=True)
    table.add_column("what")
    table.add_column("address")
    for name, address in config.endpoints().items():
        table.add_row(name, address)
    console.print(table)
    if cluster:
        # The deployment's NATS users: none both reports positions and reads the streams,
        # as the simulator does on the single node.
        console.print(
            "Cluster: second replicas on each port + 100 (endpoints.json lists them); "
            "NATS users and development passwords as in docker-compose.yml. "
            "No simulator: it needs the single node's open bus."
        )
    elif stack.start_simulator() is not None:
        console.print(
            f"[green]✓[/] simulator: {config.simulator_rate:g} calls a minute, drills only "
            "(ICC_SIMULATOR_RATE=0 turns it off; `icc simulate --scenario flood` for more)"
        )
    console.print(f"Addresses written to {endpoints}. Logs in {config.var_dir / 'log'}.")
    console.print("`icc trace INCIDENT_ID` shows an incident's spans as a waterfall.")
    console.print(f"\n[bold]Dispatcher screen: {config.screen_url}[/]")
    if flag(os.environ, "ICC_GATEWAY_DEMO_USERS", True):
        console.print(
            "Demo accounts (dev only), password [bold]icc-demo[/]: "
            "supervisor, dispatcher, calltaker, viewer\n"
        )
    console.print("Press Ctrl-C to stop.")


def script() -> None:
    """The `icc` script: a setting that does not fit (`icc_kernel.settings`) ends any command
    with one line naming it."""
    try:
        app()
    except SettingError as exc:
        console.print(f"[red]✗ {exc}[/]")
        sys.exit(2)


if __name__ == "__main__":
    script()
