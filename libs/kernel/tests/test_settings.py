"""Settings are read one way everywhere: unset or empty takes the default, a value that
does not fit fails naming the setting, never a silent default or a bare traceback."""

from collections.abc import Callable

import pytest

from icc_kernel.settings import SettingError, flag, number, port, priorities, whole
from icc_kernel.vocabulary import Priority


def test_unset_and_empty_take_the_default() -> None:
    for env in ({}, {"X": ""}, {"X": "  "}):
        assert number(env, "X", 1.5) == 1.5
        assert whole(env, "X", 7) == 7
        assert port(env, "X", 8080) == 8080
        assert flag(env, "X", True) is True


def test_values_that_fit_are_read() -> None:
    assert number({"X": " 2.5 "}, "X", 0.0, least=1.0, most=3.0) == 2.5
    assert whole({"X": "3"}, "X", 0, least=1, most=5) == 3
    assert port({"X": "65535"}, "X", 1) == 65535
    for yes in ("1", "true", "YES", "on"):
        assert flag({"X": yes}, "X", False) is True
    for no in ("0", "false", "No", "off"):
        assert flag({"X": no}, "X", True) is False


@pytest.mark.parametrize(
    ("read", "value", "says"),
    [
        (lambda env: number(env, "ICC_X", 1.0), "abc", "ICC_X: expected a number, got 'abc'"),
        (lambda env: number(env, "ICC_X", 1.0), "nan", "ICC_X: expected a number"),
        (lambda env: number(env, "ICC_X", 1.0), "inf", "ICC_X: expected a number"),
        (lambda env: number(env, "ICC_X", 1.0, least=1.0), "0.5", "ICC_X: at least 1"),
        (lambda env: number(env, "ICC_X", 1.0, most=2.0), "3", "ICC_X: at most 2"),
        (lambda env: whole(env, "ICC_X", 1), "1.5", "ICC_X: expected a whole number"),
        (lambda env: whole(env, "ICC_X", 1, least=1, most=5), "6", "ICC_X: at most 5"),
        (lambda env: port(env, "ICC_X", 1), "0", "ICC_X: at least 1"),
        (lambda env: port(env, "ICC_X", 1), "70000", "ICC_X: at most 65535"),
        # A typo is refused, not read as yes.
        (lambda env: flag(env, "ICC_X", False), "flase", "ICC_X: expected 1 or 0"),
        (lambda env: priorities(env, "ICC_X", "P1"), "urgent", "ICC_X: expected e.g. 'P1,P2'"),
    ],
)
def test_a_value_that_does_not_fit_names_the_setting(
    read: Callable[[dict[str, str]], object], value: str, says: str
) -> None:
    with pytest.raises(SettingError) as err:
        read({"ICC_X": value})
    assert str(err.value).startswith(says)


def test_priorities_by_name_and_none_when_set_empty() -> None:
    assert priorities({}, "X", "P1,P2") == {Priority.P1, Priority.P2}
    assert priorities({"X": " p1, P3 "}, "X", "P1") == {Priority.P1, Priority.P3}
    # Set but empty: nothing is dispatched without a dispatcher.
    assert priorities({"X": ""}, "X", "P1,P2") == frozenset()
