"""A service started with a setting that does not fit says which, and exits: no traceback,
no start on a silent default."""

from pathlib import Path

from icc_testing import refused_start


def test_a_service_with_a_bad_setting_says_which_and_exits(tmp_path: Path) -> None:
    said = refused_start(
        "icc_dispatch.main",
        tmp_path,
        ICC_DISPATCH_ACK_TIMEOUT_S="a minute",
        ICC_METRICS_PORT="",
        ICC_OTLP_ENDPOINT="",
    )
    assert "icc-dispatch: ICC_DISPATCH_ACK_TIMEOUT_S: expected a number, got 'a minute'" in said
