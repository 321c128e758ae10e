"""`icc pki issue`: another certificate from the local CA (or a deployment's), for a
partner, a service, a device, a hospital, an engineer or a gateway."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from icc_cli.config import StackConfig
from icc_kernel.principals import Kind
from icc_pki import BadIdentity, Identity
from icc_pki.authority import DEFAULT_DAYS
from icc_pki.local import LocalPki

pki_app = typer.Typer(help="Certificates of the local CA (var/pki).", no_args_is_help=True)
console = Console()


@pki_app.command()
def issue(
    kind: Annotated[
        str, typer.Argument(help="partner, service, device, hospital, engineer, gateway")
    ],
    name: Annotated[
        str, typer.Argument(help="e.g. police-113, a unit's or a hospital's id, a service")
    ],
    agency: Annotated[
        str, typer.Option(help="POLICE, FIRE, MEDICAL, COMMAND_CENTER, UTILITY")
    ] = "COMMAND_CENTER",
    role: Annotated[
        str, typer.Option(help="a partner's: viewer, call_taker, dispatcher, supervisor")
    ] = "",
    exercises: Annotated[bool, typer.Option(help="takes part in exercises (sees drills)")] = False,
    days: Annotated[float, typer.Option(help="validity in days")] = DEFAULT_DAYS,
    host: Annotated[
        list[str] | None, typer.Option(help="a name or address a service answers on (repeat)")
    ] = None,
    file_name: Annotated[
        str | None, typer.Option("--file", help="file name without extension (default: NAME)")
    ] = None,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="the CA's folder (default: var/pki)")
    ] = None,
) -> None:
    """Issue a certificate and key from the CA in var/pki (made if there is none) and print
    their paths. The identity is carried in the certificate (README, "Identity")."""
    try:
        identity = Identity.of(kind, name, agency, role, exercises)
    except BadIdentity as exc:
        raise typer.BadParameter(str(exc)) from None
    if identity.kind is Kind.SERVICE and not host:
        console.print("[yellow]![/] a service without --host: clients cannot check its name")
    pki = LocalPki(folder or StackConfig.from_env().pki_dir)
    files = pki.issue(file_name or name, identity, days=days, hosts=host or [])
    console.print(f"[green]✓[/] {identity.spiffe_id} ({identity.agency.name} {identity.role})")
    console.print(f"certificate: {files.cert}")
    console.print(f"key:         {files.key}")
    console.print(f"CA:          {pki.ca_cert}")
