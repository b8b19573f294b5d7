"""benchmarks/common.py: the command line every benchmark script builds from its Args dataclass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from benchmarks.common import field_docs, machine_info, parse_dataclass_args


@dataclass
class Args:
    steps: int = 10
    """env steps per run"""
    rate: float = 0.5
    """a fraction"""
    name: str = "x"
    quick: bool = False
    """smoke mode"""


def test_every_field_becomes_a_kebab_case_option() -> None:
    args = parse_dataclass_args(Args, ["--steps", "7", "--rate", "0.25", "--name", "y", "--quick"])
    assert args == Args(steps=7, rate=0.25, name="y", quick=True)
    assert parse_dataclass_args(Args, []) == Args()
    assert parse_dataclass_args(Args, ["--no-quick"]).quick is False


def test_help_comes_from_the_docstrings_under_the_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert field_docs(Args) == {
        "steps": "env steps per run",
        "rate": "a fraction",
        "quick": "smoke mode",
    }
    with pytest.raises(SystemExit) as exc:
        parse_dataclass_args(Args, ["--help"], "Title line.\n\nMore text.")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "Title line." in out and "More text" not in out
    assert "env steps per run (default: 10)" in out


def test_a_bad_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_dataclass_args(Args, ["--steps", "many"])
    assert exc.value.code == 2
    assert "--steps" in capsys.readouterr().err


def test_machine_info_records_versions_and_extras() -> None:
    info = machine_info(("numba", "no-such-dist-xyz"), strongest_isolation="strict")
    assert info["numba"] and info["no_such_dist_xyz"] is None
    assert info["strongest_isolation"] == "strict"
    assert info["cpu_count"] >= 1 and info["timestamp"].endswith("+00:00")
