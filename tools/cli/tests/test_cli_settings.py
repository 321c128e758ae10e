"""Any `icc` command ends with one line naming a setting that does not fit."""

from pathlib import Path

from icc_testing import refused_start


def test_a_bad_setting_ends_a_command_with_its_name(tmp_path: Path) -> None:
    said = refused_start(
        "icc_cli.main", tmp_path, "status", ICC_SIMULATOR_RATE="lots", ICC_VAR_DIR=str(tmp_path)
    )
    assert "ICC_SIMULATOR_RATE: expected a number, got 'lots'" in said
