"""The shared vocabulary is defined once: a second definition anywhere in the sources fails.

Scans every hand-written Python file of the workspace (generated code, tests and
migrations aside) for classes, functions, tables and regular expressions that belong to the
kernel or to `icc_city.travel`, the travel model.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
KERNEL = ROOT / "libs" / "kernel" / "src"

# Concepts the kernel owns: a class or function of this name elsewhere is a copy.
CLASSES = {
    "Agency",
    "Role",
    "Principal",
    "Priority",
    "AssignmentState",
    "IncidentState",
    "UnitKind",
    "UnitStatus",
    "StationKind",
    "Diversion",
    "EtaSource",
    "ReasonCode",
    "Violation",
    "InvalidInput",
    "NotFound",
    "StaleEtag",
    "IllegalTransition",
    "ConcurrentChange",
    # The travel model (icc_city.travel).
    "Period",
}
FUNCTIONS = {
    "percentile",
    "utc_now",
    "parse_name",
    "etag_of",
    "version_of",
    "to_rpc_error",
    # The one codec of page tokens and cursors (icc_rpc.convert).
    "encode_page_token",
    "decode_page_token",
    # The travel model (icc_city.travel).
    "period_of",
    "vehicle_class",
    # Where the pinned nats-server is (icc_bus.server).
    "nats_server_binary",
}
# Module-level tables of the travel model, and the length of an incident's id: an
# assignment to this name elsewhere is a copy.
CONSTANTS = {"SPEED_KMH", "CIRCUITY", "MAX_INCIDENT_ID"}
# The request-id character class, however it is spelt.
REQUEST_ID_LITERAL = re.compile(r"A-Za-z0-9\._:-|A-Za-z0-9_.:-|A-Za-z0-9.:_-")

# Copies that the renovation is still removing: each entry must still exist (so the list
# only shrinks), and none may be added. Empty when the renovation is done.
KNOWN: set[str] = set()


def _sources() -> list[Path]:
    out = []
    for top in ("libs", "services", "tools", "bench"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if (
                "/tests/" in rel
                or "/migrations/" in rel
                or rel.startswith("libs/protos/")
                or "/.venv/" in rel
                or "node_modules" in rel
            ):
                continue
            out.append(path)
    return out


# The kernel's own homes outside the kernel: the mapping to gRPC status, the page-token
# codec, the travel model.
TRAVEL = "libs/city/src/icc_city/travel.py"
HOMES = {
    "libs/rpc/src/icc_rpc/errors.py: def to_rpc_error",
    "libs/rpc/src/icc_rpc/convert.py: def encode_page_token",
    "libs/rpc/src/icc_rpc/convert.py: def decode_page_token",
    f"{TRAVEL}: class Period",
    f"{TRAVEL}: def period_of",
    f"{TRAVEL}: def vehicle_class",
    f"{TRAVEL}: SPEED_KMH",
    f"{TRAVEL}: CIRCUITY",
    "libs/bus/src/icc_bus/server.py: def nats_server_binary",
}


def _definitions() -> set[str]:
    found: set[str] = set()
    for path in _sources():
        if path.is_relative_to(KERNEL):
            continue
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in CLASSES:
                found.add(f"{rel}: class {node.name}")
            elif (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in FUNCTIONS
            ):
                found.add(f"{rel}: def {node.name}")
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in CONSTANTS:
                        found.add(f"{rel}: {target.id}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and REQUEST_ID_LITERAL.search(node.value)
            ):
                found.add(f"{rel}: request-id pattern")
    return found - HOMES


def test_the_vocabulary_is_defined_once() -> None:
    found = _definitions()
    new = sorted(found - KNOWN)
    assert not new, "defined again outside icc_kernel (import it instead):\n" + "\n".join(new)


def test_the_list_of_known_copies_only_shrinks() -> None:
    gone = sorted(KNOWN - _definitions())
    assert not gone, "no longer a copy: remove from KNOWN:\n" + "\n".join(gone)


# The trace sink's image holds none of the shared libraries (its Dockerfile), so it reads
# its two numbers itself.
SETTINGS_HOMES = {"tools/tracesink/src/icc_tracesink/main.py"}
_CONVERTERS = {"int", "float"}


def _setting_lookup(node: ast.AST) -> bool:
    """`env.get("ICC_...", ...)`, `os.environ["ICC_..."]`, or a method of either (`.strip()`)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "get" and node.args:
            first = node.args[0]
            return isinstance(first, ast.Constant) and str(first.value).startswith("ICC_")
        return _setting_lookup(node.func.value)
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and str(key.value).startswith("ICC_")
    if isinstance(node, ast.BoolOp):
        return any(_setting_lookup(v) for v in node.values)
    return False


def _settings_read_by_hand() -> list[str]:
    found = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if path.is_relative_to(KERNEL) or rel in SETTINGS_HOMES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            converted = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _CONVERTERS
                and bool(node.args)
                and _setting_lookup(node.args[0])
            )
            compared = isinstance(node, ast.Compare) and _setting_lookup(node.left)
            if converted or compared:
                found.append(f"{rel}:{getattr(node, 'lineno', 0)}")
    return found


def test_settings_are_read_through_icc_kernel_settings() -> None:
    """A number or a flag read from an `ICC_*` variable by hand misses the rule every other
    setting keeps (a bad value stops the start, naming it)."""
    found = _settings_read_by_hand()
    assert not found, "read with icc_kernel.settings (number, whole, port, flag):\n" + (
        "\n".join(found)
    )
