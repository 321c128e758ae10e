"""`icc run` gives every service one token key, made once under var/."""

import stat
from pathlib import Path

from icc_cli.local_secrets import local_token_key


def test_the_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    var = tmp_path / "var"
    key = local_token_key(var, {})
    assert len(key) == 64
    assert local_token_key(var, {}) == key  # the same after a restart
    assert stat.S_IMODE((var / "token.key").stat().st_mode) == 0o600
    assert local_token_key(var, {"ICC_TOKEN_KEY": "s" * 40}) == "s" * 40
