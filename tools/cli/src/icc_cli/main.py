"""The `icc` command line."""

import signal
import time
from types import FrameType

import typer
from rich.console import Console
from rich.table import Table

from icc_cli.stack import Stack, StackConfig, StackError

app = typer.Typer(
    help="ICC, the Integrated Command Center for Ho Chi Minh City.", no_args_is_help=True
)
console = Console()


@app.callback()
def main() -> None:
    """ICC command line."""


@app.command()
def run() -> None:
    """Start the whole system locally: a private nats-server and every service (Ctrl-C stops it)."""
    config = StackConfig.from_env()
    stack = Stack(config)
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("Starting nats-server (JetStream) ..."):
            stack.start_nats()
        console.print(
            f"[green]✓[/] nats-server on {config.nats_url} (data in {config.var_dir / 'nats'})"
        )
        resources_target = f"{config.host}:{config.resources_port}"
        for name, port, what, env in (
            ("incidents", config.incidents_port, "migrations, streams", {}),
            ("resources", config.resources_port, "migrations, the city's stations and fleet", {}),
            (
                "dispatch",
                config.dispatch_port,
                "response plans, the fleet view, auto-dispatch of P1/P2",
                {"ICC_RESOURCES_TARGET": resources_target},
            ),
        ):
            with console.status(f"Starting the {name} service ({what}) ..."):
                stack.start_service(name, port, env)
            console.print(f"[green]✓[/] {name} service on {config.host}:{port}")
        endpoints = stack.write_endpoints()
        table = Table(title="ICC is running", show_header=True)
        table.add_column("what")
        table.add_column("address")
        for name, address in config.endpoints().items():
            table.add_row(name, address)
        console.print(table)
        console.print(f"Addresses written to {endpoints}. Logs in {config.var_dir / 'log'}.")
        console.print("Press Ctrl-C to stop.")
        while not stopping:
            exited = stack.first_exited()
            if exited is not None:
                raise StackError(
                    f"{exited.name} stopped unexpectedly (exit code {exited.process.returncode}); "
                    f"see {exited.log_path}"
                )
            time.sleep(0.5)
        console.print("Stopping ...")
    except StackError as exc:
        console.print(f"[red]✗ {exc}[/]")
        stack.stop()
        raise typer.Exit(1) from None
    stack.stop()
    console.print("[green]✓[/] stopped")


if __name__ == "__main__":
    app()
