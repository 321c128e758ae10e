"""The secrets `icc run` makes once in its var folder and keeps across restarts: the key
page tokens and cursors are signed with, and each NATS user's password on the local bus."""

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from icc_cli import cluster


def local_token_key(var_dir: Path, env: Mapping[str, str] = os.environ) -> str:
    """The key every local service signs its page tokens and cursors with: `ICC_TOKEN_KEY`
    when set, else the one in `var/token.key`, made on first start (readable by its owner
    only), so a token stays good across restarts of the service that made it."""
    given = env.get("ICC_TOKEN_KEY")
    if given:
        return given
    path = var_dir / "token.key"
    var_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip()


def local_nats_passwords(var_dir: Path) -> dict[str, str]:
    """Each NATS user's password for the local bus, by the variable deploy/nats/nats.conf
    reads it from: random, made once in `var/nats-passwords.json` (readable by its owner
    only) and kept, so a restart finds the same ones. A user added to the deployment's
    file later gets a password on the next start."""
    path = nats_passwords_path(var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("{}\n")
    known: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    missing = [v for v in cluster.NATS_PASSWORDS if v not in known]
    if missing:
        # nats-server parses a variable's value as configuration: letters first and hex
        # digits after always read as one plain string (a leading digit or `-` may not).
        known |= {v: "p" + secrets.token_hex(24) for v in missing}
        # Written beside and renamed: a crash leaves the old file or the new, never half.
        fresh = path.with_suffix(".tmp")
        fresh.unlink(missing_ok=True)
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(known, indent=2) + "\n")
        fresh.replace(path)
    return known


def nats_passwords_path(var_dir: Path) -> Path:
    return var_dir / "nats-passwords.json"


def local_nats_user(var_dir: Path, user: str) -> tuple[str, str] | None:
    """User `user` and its password on the bus `icc run` started with `var_dir`, if any."""
    path = nats_passwords_path(var_dir)
    if not path.exists():
        return None
    password = json.loads(path.read_text(encoding="utf-8")).get(cluster.password_variable(user))
    return (user, password) if password else None
