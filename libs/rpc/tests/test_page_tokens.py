"""Page tokens and cursors: signed, bound to their RPC and request, bounded; anything else
a caller sends in their place is refused naming the field, never another exception."""

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icc_kernel.errors import InvalidInput
from icc_rpc import convert as c

KEY = b"k" * 32


@pytest.fixture(autouse=True)
def _key() -> Iterator[None]:
    c.use_token_key(KEY)
    yield
    c.use_token_key(KEY)


def _refusal(token: str, kind: str = "ListUnits", **kw: object) -> str:
    with pytest.raises(InvalidInput) as err:
        c.decode_page_token(token, kind, **kw)  # type: ignore[arg-type]
    [violation] = err.value.violations
    assert violation.field == kw.get("field", "page_token")
    return violation.description


def test_a_token_gives_back_where_the_page_ended() -> None:
    token = c.encode_page_token("ListUnits", ("U-17", 3), scope=("FIRE", ()))
    assert token.isascii() and len(token) < 100
    page = c.decode_page_token(token, "ListUnits", scope=("FIRE", ()))
    assert (page.text(0), page.number(1)) == ("U-17", 3)
    # A value of another type than the reader expects is refused, not a crash.
    with pytest.raises(InvalidInput):
        page.number(0)
    with pytest.raises(InvalidInput):
        page.text(5)


def test_a_token_of_another_rpc_request_or_key_is_refused() -> None:
    token = c.encode_page_token("ListChronology", (4,), scope="incidents/a")
    assert "ListChronology" in _refusal(token, "ListIncidents", scope="incidents/a")
    assert "other filters or another parent" in _refusal(
        token, "ListChronology", scope="incidents/b"
    )
    _refusal(token, "WatchIncidents", field="cursor")
    c.use_token_key(b"another deployment's key, 32 chars")
    assert "another deployment" in _refusal(token, "ListChronology", scope="incidents/a")


def test_forged_and_changed_tokens_are_refused() -> None:
    real = c.encode_page_token("ListChronology", (4,), scope="incidents/a")
    body, _, mac = real.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged = [
        # What tokens were before they were signed: base64 JSON the caller can write.
        base64.urlsafe_b64encode(json.dumps({"i": "a", "s": 10**30}).encode()).decode(),
        # The real one with its position changed and its signature kept.
        c._b64(json.dumps([*payload[:3], 10**30]).encode()) + "." + mac,
        real[:-2],
        real + "A",
        real.replace(".", ".."),
        "",
        ".",
        "²",
        "x" * 100_000,
    ]
    for token in forged:
        _refusal(token, "ListChronology", scope="incidents/a")


def test_numbers_and_texts_out_of_bounds_are_refused_even_when_signed() -> None:
    for position in [(2**63,), (-1,), (True,), ("x" * 1000,), (1.5,), (None,), (1, 2, 3, 4, 5)]:
        token = c.encode_page_token("ListChronology", position)  # type: ignore[arg-type]
        _refusal(token, "ListChronology")
    assert (
        c.decode_page_token(
            c.encode_page_token("ListChronology", (2**63 - 1,)), "ListChronology"
        ).number(0)
        == 2**63 - 1
    )


@given(st.one_of(st.text(), st.binary().map(lambda b: c._b64(b) + "." + c._b64(b[:16]))))
def test_any_text_is_a_token_or_refused_naming_the_field(token: str) -> None:
    with pytest.raises(InvalidInput):
        c.decode_page_token(token, "WatchIncidents", field="cursor")


def test_the_key_comes_from_the_environment_and_is_required_outside_local() -> None:
    assert c.token_key_from_env({}) is None
    assert c.token_key_from_env({"ICC_ENVIRONMENT": "local"}) is None
    assert c.token_key_from_env({"ICC_TOKEN_KEY": "s" * 32}) == b"s" * 32
    with pytest.raises(ValueError, match="ICC_TOKEN_KEY is not set"):
        c.token_key_from_env({"ICC_ENVIRONMENT": "production"})
    with pytest.raises(ValueError, match="at least 32"):
        c.token_key_from_env({"ICC_TOKEN_KEY": "short", "ICC_ENVIRONMENT": "production"})


def test_a_service_that_signs_tokens_does_not_start_without_a_key_outside_local() -> None:
    program = (
        "from icc_rpc.runtime import run_service\n"
        "async def start(): raise AssertionError('started')\n"
        "run_service('incidents', start, 'ICC_INCIDENTS_ADDR', signs_tokens=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ICC_TOKEN_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={**env, "ICC_ENVIRONMENT": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "icc-incidents: ICC_TOKEN_KEY is not set" in done.stderr


def test_a_page_is_cut_from_one_more_item_than_it_holds() -> None:
    assert c.page_of(["a", "b"], 2, "ListUnits", lambda u: (u,)) == (["a", "b"], "")
    page, token = c.page_of(["a", "b", "c"], 2, "ListUnits", lambda u: (u,), scope="FIRE")
    assert page == ["a", "b"]
    assert c.decode_page_token(token, "ListUnits", scope="FIRE").text(0) == "b"
