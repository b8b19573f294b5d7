"""Reward schemes (rl.schemes): one class per scheme, one registry, chosen from the CLI.

Each scheme is checked on its own (``latch`` then ``pay`` on hand-made flag rows, no composer),
then through :class:`rl.rewards.RewardComposer`, which must delegate to it. The CLI tests stop at
argument validation (exit 2 before any env or sandbox is made); the end-to-end ``--scheme`` and
``--bonus`` run is in ``tests/rl/test_diagnosis.py``, which trains once for both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rl.cli_train import scheme_name
from rl.programs import reference_program
from rl.rewards import RewardComposer
from rl.schemes import (
    SCHEME_CLASSES,
    SCHEMES,
    AnyOrder,
    Ordered,
    Potential,
    RewardScheme,
    UnknownSchemeError,
    canonical_scheme,
    make_scheme,
)
from rl.training import TrainConfig, with_overrides
from vlmcar.cli import main as vlmcar_main

ENV = "MiniGrid-DoorKey-5x5-v0"


def bits(row: str) -> np.ndarray:
    return np.array([[ch == "1" for ch in row]])


def walk(
    scheme: RewardScheme,
    rows: list[str],
    *,
    terminal_last: bool = False,
    bonus: float = 1.0,
    gamma: float = 0.9,
) -> tuple[list[float], list[str]]:
    """Latch and pay one env through flag rows like "101"; return bonuses and latches per step."""
    prev = np.zeros((1, len(rows[0])), bool)
    paid, latched = [], []
    for t, row in enumerate(rows):
        terminal = np.array([terminal_last and t == len(rows) - 1])
        new = scheme.latch(prev, bits(row))
        b = scheme.pay(prev, new, terminal, bonus=bonus, gamma=gamma)
        assert b.shape == (1,) and b.dtype == np.float64
        assert new is not prev and new.dtype == np.bool_
        paid.append(round(float(b[0]), 6))
        latched.append("".join("1" if x else "0" for x in new[0]))
        prev = new
    return paid, latched


@pytest.mark.parametrize(
    ("scheme", "rows", "paid", "latched", "kw"),
    [
        # ordered: 2 before 0 and 1 is ignored; 0, then 1 and 2 together (in order) pay 1 + 2
        (Ordered(), ["001", "100", "011", "111"], [0, 1, 2, 0], ["000", "100", "111", "111"], {}),
        # ordered: a gap blocks what follows it even when it fires every step
        (Ordered(), ["101", "101", "101"], [1, 0, 0], ["100", "100", "100"], {}),
        # any_order: whatever fires latches, once; the bonus scales the payment
        (
            AnyOrder(),
            ["001", "001", "110", "111"],
            [0.5, 0, 1.0, 0],
            ["001", "001", "111", "111"],
            {"bonus": 0.5},
        ),
        # potential, gamma 0.9: F = 0.9 Phi' - Phi on ordered latches
        (
            Potential(),
            ["001", "100", "110", "110"],
            [0, 0.9, 0.8, -0.2],
            ["000", "100", "110", "110"],
            {},
        ),
        # potential: a true terminal next state has Phi = 0, so the last step pays -Phi(s)
        (
            Potential(),
            ["100", "110"],
            [0.9, -1.0],
            ["100", "110"],
            {"terminal_last": True},
        ),
    ],
)
def test_each_scheme_on_hand_made_flags(scheme, rows, paid, latched, kw):
    got_paid, got_latched = walk(scheme, rows, **kw)
    assert got_paid == pytest.approx(paid)
    assert got_latched == latched


def test_latch_never_changes_the_previous_latches():
    prev = np.array([[True, False, False]])
    for cls in SCHEME_CLASSES.values():
        before = prev.copy()
        cls().latch(prev, np.array([[False, True, True]]))
        assert (prev == before).all(), cls.name


def test_registry_is_one_entry_per_class():
    assert SCHEMES == ("ordered", "any_order", "potential")
    assert tuple(SCHEME_CLASSES) == SCHEMES
    for name, cls in SCHEME_CLASSES.items():
        assert issubclass(cls, RewardScheme) and cls.name == name and cls.summary
        assert type(make_scheme(name)) is cls
    with pytest.raises(TypeError):
        # frozen: no registration at run time
        SCHEME_CLASSES["mine"] = Ordered  # type: ignore[index]


@pytest.mark.parametrize("name", SCHEMES)
def test_composer_delegates_to_the_registered_scheme(name):
    rows = ["010", "100", "101", "111", "000"]
    composer = RewardComposer(1, 3, scheme=name, bonus=2.0, gamma=0.9)
    assert type(composer.rule) is SCHEME_CLASSES[name] and composer.scheme == name
    expected, _ = walk(SCHEME_CLASSES[name](), rows, bonus=2.0, gamma=0.9)
    got = []
    for row in rows:
        b, _ = composer.step(bits(row), np.ones((1, 3), bool), np.zeros(1, bool))
        got.append(round(float(b[0]), 5))
    assert got == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("ordered", "ordered"),
        ("any_order", "any_order"),
        ("any-order", "any_order"),
        ("Any-Order", "any_order"),
        (" potential ", "potential"),
    ],
)
def test_canonical_spellings(text, name):
    assert canonical_scheme(text) == name
    assert scheme_name(text) == name


@pytest.mark.parametrize("bad", ["bogus", "", "sparse", "any order", "ordered2"])
def test_unknown_scheme_error(bad):
    with pytest.raises(UnknownSchemeError) as info:
        canonical_scheme(bad)
    err = info.value
    assert isinstance(err, ValueError) and err.scheme == bad and err.choices == SCHEMES
    assert str(err) == f"scheme={bad!r}: choose one of ordered, any_order, potential"
    with pytest.raises(UnknownSchemeError):
        make_scheme(bad)
    with pytest.raises(ValueError, match="choose one of ordered, any_order, potential"):
        RewardComposer(1, 1, scheme=bad)


@pytest.mark.parametrize("bad", [None, 3, ["ordered"]])
def test_non_string_scheme_is_unknown(bad):
    with pytest.raises(UnknownSchemeError):
        canonical_scheme(bad)
    with pytest.raises(UnknownSchemeError):
        make_scheme(bad)


def test_make_scheme_wants_the_registered_spelling():
    with pytest.raises(UnknownSchemeError):
        make_scheme("any-order")  # the spelling is the CLI's business (canonical_scheme)


def test_train_config_overrides():
    program = reference_program(ENV)
    config = TrainConfig(ENV, "reference", scheme="any-order", bonus=0.25)
    config.validate()
    changed = with_overrides(program, config)
    assert (changed.scheme, changed.bonus, changed.sources) == ("any_order", 0.25, program.sources)
    assert with_overrides(program, TrainConfig(ENV, "reference")) is program


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheme": "bogus"}, "scheme='bogus'"),
        ({"bonus": float("nan")}, "bonus"),
        ({"bonus": float("inf")}, "bonus"),
        ({"bonus": True}, "bonus"),
        ({"reward": "sparse", "scheme": "ordered"}, "sparse reward"),
        ({"reward": "sparse", "bonus": 2.0}, "sparse reward"),
    ],
)
def test_train_config_refuses_bad_overrides(kwargs, match):
    base = {"env_id": ENV, "reward": "reference", **kwargs}
    with pytest.raises(ValueError, match=match):
        TrainConfig(**base).validate()


def _train(tmp_path: Path, *extra: str) -> list[str]:
    out = tmp_path / "out"
    return ["train", "--env", ENV, "--reward", "reference", "--out", str(out), *extra]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scheme", "bogus"], "argument --scheme: unknown scheme 'bogus'"),
        (["--scheme", "orderd"], "(did you mean ordered"),
        (["--bonus", "nan"], "argument --bonus: must be a finite number > 0, got 'nan'"),
        (["--bonus", "-1"], "argument --bonus: must be a finite number > 0"),
        (["--bonus", "x"], "argument --bonus: must be a finite number > 0, got 'x'"),
    ],
)
def test_cli_bad_scheme_or_bonus_exits_2(tmp_path, capsys, extra, message):
    assert vlmcar_main(_train(tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert "vlmcar train: error:" in err and message in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_cli_scheme_with_sparse_reward_exits_2(tmp_path, capsys):
    argv = _train(tmp_path, "--scheme", "potential")
    argv[argv.index("reference")] = "sparse"
    assert vlmcar_main(argv) == 2
    err = capsys.readouterr().err
    assert "--scheme" in err and "--reward sparse" in err
    assert not (tmp_path / "out").exists()
