"""Arguments that more than one `icc` command takes, declared once, and where a command
finds the local system `icc run` started when it is given none."""

import json
import os
from pathlib import Path
from typing import Annotated

import typer

# `incidents/ID` or just `ID`; `incident_id_of` reads either.
IncidentArgument = Annotated[
    str,
    typer.Argument(
        help="The incident: `incidents/ID` or just `ID`.",
        metavar="INCIDENT_ID",
        show_default=False,
    ),
]


def incident_id_of(given: str) -> str:
    """The incident's id from `incidents/ID` or `ID`."""
    return given.strip().removeprefix("incidents/")


def local_endpoint(given: str | None, key: str, default: str) -> str:
    """`given`, else `key` of the `endpoints.json` that `icc run` wrote in `$ICC_VAR_DIR`,
    else `default` (the embedded address)."""
    if given:
        return given
    endpoints = Path(os.environ.get("ICC_VAR_DIR", "var")) / "endpoints.json"
    if endpoints.exists():
        return str(json.loads(endpoints.read_text(encoding="utf-8"))[key])
    return default
