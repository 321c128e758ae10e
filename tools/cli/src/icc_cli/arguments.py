"""Arguments that more than one `icc` command takes, declared once."""

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
