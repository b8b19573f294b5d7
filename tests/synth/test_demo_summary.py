"""The demo's training summary says what the curves show, and that one seed is not evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

from rl.training import EvalPoint
from synth.demo import NEXT_STEPS, SYNTH_SETTINGS, _conclusion, _describe_run


@dataclass
class Run:
    """The fields of rl.training.TrainResult the summary reads."""

    curve: list[EvalPoint]
    steps_per_second: float = 1000.0
    config: dict[str, int] = field(default_factory=lambda: {"seed": 0})

    @property
    def final_success(self) -> float:
        return self.curve[-1].success_rate

    @property
    def steps_to_90(self) -> int | None:
        return next((p.steps for p in self.curve if p.success_rate >= 0.9), None)


def curve(*rates: float) -> list[EvalPoint]:
    return [EvalPoint(10_000 * (i + 1), r, 0.0, 10.0, 20) for i, r in enumerate(rates)]


def test_a_run_that_peaks_then_collapses_is_described_by_its_curve_not_its_last_point() -> None:
    # the case: sparse at 0.95-1.0 mid-run, 0 at the end
    text = _describe_run(Run(curve(0.1, 0.95, 1.0, 0.0)))
    assert "reached 90 % at 20,000 steps" in text
    assert "best 100%" in text and "final 0%" in text


def test_one_seed_is_called_a_demonstration_not_evidence() -> None:
    lines = _conclusion(
        {"code reward": [Run(curve(0.2, 0.75))], "sparse": [Run(curve(0.95, 0.0))]}, 20_000
    )
    assert lines[0].startswith("code reward: reached 90 % success in 0/1 seed(s)")
    assert lines[1].startswith("sparse: reached 90 % success in 1/1 seed(s), after 10,000 steps")
    assert "not that one reward learns faster" in lines[-1]
    assert not any("75 % vs" in line for line in lines)


def test_several_seeds_give_mean_and_spread() -> None:
    runs = {
        "code reward": [Run(curve(0.5, 0.9)), Run(curve(0.95, 1.0)), Run(curve(0.2, 0.4))],
        "sparse": [Run(curve(0.0, 0.1)), Run(curve(0.0, 0.0)), Run(curve(0.9, 1.0))],
    }
    lines = _conclusion(runs, 20_000)
    assert "2/3 seed(s), after 15,000 ± 5,000 steps" in lines[0]
    assert "final success 77% ± 26%" in lines[0]
    assert "over 3 seeds" in lines[-1]


def test_demo_settings_are_the_cli_defaults_and_it_ends_with_the_next_step() -> None:
    import argparse

    from synth.cli import configure_synth

    parser = argparse.ArgumentParser()
    configure_synth(parser)
    args = parser.parse_args(["--env", "x", "--replay", __file__, "--out", "o"])
    assert args.fuzz_examples == SYNTH_SETTINGS["fuzz_examples"]
    assert (args.rounds, args.expert, args.random) == (
        SYNTH_SETTINGS["max_rounds"],
        SYNTH_SETTINGS["n_expert"],
        SYNTH_SETTINGS["n_random"],
    )
    assert (args.random_length, args.seed) == (
        SYNTH_SETTINGS["random_length"],
        SYNTH_SETTINGS["seed"],
    )
    assert any("vlmcar synth --env" in line for line in NEXT_STEPS)
