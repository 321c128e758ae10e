"""NENA's EIDO schema (vendored unchanged in `data/eido`, see its SOURCE.md) and the check
of a document against it.

The schema is an OpenAPI 3.0 document: its schema objects are validated with
`openapi-schema-validator` (OAS 3.0 dialect, formats such as date-time checked). The NIEM
files it refers to (`NIEMComponents/*.yaml`) are read only when a document uses a NIEM
component (a person's name, a vehicle), so most checks never load them.
"""

from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT4

from icc_kernel.errors import Violation

# Where the vendored files answer: a base the relative references (`NIEMComponents/nc.yaml`,
# `niem-xs.yaml`) resolve against, never fetched from the network.
BASE = "https://eido.schema.invalid/Schema/"
DOCUMENT = f"{BASE}openapi.yaml#/components/schemas/EmergencyIncidentDataObjectType"
# A document with thousands of faults is refused all the same: name the first few.
MOST_VIOLATIONS = 10


def _fix(node: Any) -> Any:
    """The published file's one defect: `minItems: 1,` (a string) read as 1."""
    if isinstance(node, dict):
        return {k: (1 if k == "minItems" and v == "1," else _fix(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_fix(v) for v in node]
    return node


# Kept: a registry hands back what it retrieved only within one validation, and the NIEM
# files are large (nc.yaml: 380 kB), so without this each check read them again.
@cache
def _retrieve(uri: str) -> Resource[Any]:
    if not uri.startswith(BASE):
        raise NoSuchResource(uri)
    relative = uri.removeprefix(BASE)
    folder = files("icc_incidents") / "data" / "eido"
    path = folder.joinpath(*relative.split("/"))
    if ".." in relative or not path.is_file():
        raise NoSuchResource(uri)
    contents = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return DRAFT4.create_resource(_fix(contents))


@cache
def validator() -> OAS30Validator:
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    return OAS30Validator(
        {"$ref": DOCUMENT}, registry=registry, format_checker=oas30_format_checker
    )


def path_of(parts: Iterable[str | int]) -> str:
    """`callComponent[0].direction`: where in a document something is."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def violations(document: object, field: str = "document") -> list[Violation]:
    """What in `document` breaks NENA's schema, each named by its path under `field`
    (`document.callComponent[0].direction`); empty when it conforms."""
    found: list[Violation] = []
    try:
        errors = sorted(
            validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]
        )
    except Unresolvable as exc:
        return [Violation(field, f"refers to a schema part not in NENA's EIDO schema: {exc}")]
    for error in errors[:MOST_VIOLATIONS]:
        found.append(Violation(_where(field, error), _said(error)))
    return found


def _where(field: str, error: ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # Name the missing member itself, not the object that lacks it.
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [r for r in required if r not in error.instance]
        parts.extend(missing[:1])
    inner = path_of(parts)
    if not inner:
        return field
    return f"{field}{inner}" if inner.startswith("[") else f"{field}.{inner}"


def _said(error: ValidationError) -> str:
    if error.validator == "required":
        return "required by NENA's EIDO schema"
    return str(error.message)[:300]
