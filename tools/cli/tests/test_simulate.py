"""`icc simulate` is registered and checks its options before connecting."""

from typer.testing import CliRunner

from icc_cli.main import app

WIDE = {"COLUMNS": "200"}


def test_simulate_is_a_command_with_the_scenario_options() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    for option in ("--scenario", "--rate", "--duration", "--seed", "--speed", "--station"):
        assert option in result.output


def test_an_unknown_scenario_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "tsunami"], env=WIDE)
    assert result.exit_code == 2
    assert "flood" in result.output and "mass-casualty" in result.output


def test_a_bad_duration_is_refused() -> None:
    result = CliRunner().invoke(app, ["simulate", "--duration", "soon"], env=WIDE)
    assert result.exit_code == 2
    assert "not a duration" in result.output
