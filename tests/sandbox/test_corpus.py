"""The model-style checker corpus (tests/sandbox/data/corpus): audit, sandbox == raw exec, JIT report.

The corpus and its reference answers are built by ``tools/build_corpus.py``: ``answers.json`` holds
each checker's answers when it is run by plain ``exec`` with real numpy on its environment's
recorded frames. Here every checker must pass the audit, and a real :class:`sandbox.Sandbox`
(strongest isolation available, JIT on, one sandbox holding all checkers of an environment) must
give exactly those answers, whichever path (Numba kernel or interpreter) each checker ran on. Which
path that was is reported (printed, and in assertion messages), never asserted. ``make test`` runs
every third checker of each environment; ``make test-long`` runs all of them and the JIT report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sandbox.audit import audit
from sandbox.pool import Sandbox
from tools import build_corpus as BUILD

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "data" / "corpus"
MIN_CHECKERS = 40


ANSWERS: dict[str, dict[str, object]] = json.loads((CORPUS / "answers.json").read_text("utf-8"))
FILES: list[Path] = BUILD.checker_files()
ENVS: list[str] = sorted({str(entry["env"]) for entry in ANSWERS.values()})


@dataclass(frozen=True)
class Run:
    """One checker's outcome in the sandbox."""

    name: str
    status: str
    detail: str
    answers: list[bool]
    usable: bool
    mode: str
    reason: str


def _frames(env_id: str) -> dict[str, np.ndarray]:
    with np.load(BUILD.frames_path(env_id)) as data:
        return {k: data[k] for k in data.files}


def _names(env_id: str) -> list[str]:
    return sorted(name for name, entry in ANSWERS.items() if entry["env"] == env_id)


#: Checkers whose cold JIT build alone takes half a minute (numba's typed dicts of strings): in
#: ``make test-long`` only; their idioms are pinned in ``make test`` by the agreement cases of
#: ``test_jit_programs`` ("tile labels in a list, counts in a local dict, `in`").
SLOW_TO_BUILD: frozenset[str] = frozenset({"13_dk8_classify_tiles.py"})

#: ``make test`` runs every third checker of each env (cold JIT builds of all 46 take minutes);
#: ``make test-long`` runs all of them (``test_full_corpus_...``).
SUBSET: frozenset[str] = frozenset(
    name
    for env_id in ENVS
    for i, name in enumerate(_names(env_id))
    if i % 3 == 0 and name not in SLOW_TO_BUILD
)


def _run_all(selected: frozenset[str] | None) -> dict[str, Run]:
    out: dict[str, Run] = {}
    for env_id in ENVS:
        names = [n for n in _names(env_id) if selected is None or n in selected]
        data = _frames(env_id)
        sources = [(CORPUS / name).read_text("utf-8") for name in names]
        with Sandbox(sources, names=names, isolation=None, timeout=30.0) as box:
            result = box.evaluate(data["frames"], data["firsts"])
            modes = box.jit_modes
            usable = result.usable()
        for i, name in enumerate(names):
            out[name] = Run(
                name=name,
                status=result.statuses[i],
                detail=result.details[i],
                answers=[bool(v) for v in result.results[i]],
                usable=bool(usable[i].all()),
                mode=modes[i][0],
                reason=modes[i][1],
            )
    return out


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    """The subset run once in the sandbox: one Sandbox per environment, its checkers."""
    yield _run_all(SUBSET)


@pytest.fixture(scope="module")
def all_runs() -> Iterator[dict[str, Run]]:
    """Every corpus checker, the same way."""
    yield _run_all(None)


def jit_table(runs: dict[str, Run]) -> str:
    """Which path each checker ran on, one line each, with the totals."""
    lines = [f"{'checker':36s} {'env':28s} {'path':11s} reason"]
    for name in sorted(runs):
        run = runs[name]
        env_id = str(ANSWERS[name]["env"])
        reason = run.reason.splitlines()[0][:110] if run.reason else ""
        lines.append(f"{name:36s} {env_id:28s} {run.mode:11s} {reason}")
    n_jit = sum(run.mode == "jit" for run in runs.values())
    lines.append(f"JIT: {n_jit} of {len(runs)} checkers; the rest ran on the interpreter")
    return "\n".join(lines)


def test_corpus_has_enough_checkers_and_each_audits_clean() -> None:
    assert len(FILES) >= MIN_CHECKERS, f"only {len(FILES)} checkers in {CORPUS}"
    assert sorted(p.name for p in FILES) == sorted(ANSWERS), (
        "answers.json is stale: rerun .venv/bin/python tools/build_corpus.py"
    )
    rejected = {}
    for path in FILES:
        text = path.read_text("utf-8")
        meta = BUILD.parse_header(text)
        assert meta["style"] in {"gpt-4o", "claude", "qwen-vl"}, path.name
        assert meta["env"] == ANSWERS[path.name]["env"], path.name
        report = audit(text, path=path.name)
        if not report.ok:
            rejected[path.name] = [f"{f.code}: {f.message}" for f in report.findings]
        assert ANSWERS[path.name]["audit_ok"] is True, path.name
    assert not rejected, f"audit rejected corpus checkers: {rejected}"


@pytest.mark.parametrize("env_id", ENVS)
def test_answers_json_matches_raw_exec(env_id: str) -> None:
    """answers.json is what raw exec gives now (guards against a stale file)."""
    data = _frames(env_id)
    for name in _names(env_id):
        got = BUILD.raw_answers((CORPUS / name).read_text("utf-8"), data["frames"], data["firsts"])
        assert got == ANSWERS[name]["answers"], f"{name}: rerun tools/build_corpus.py"


def _check_env(env_id: str, runs: dict[str, Run]) -> None:
    names = [n for n in _names(env_id) if n in runs]
    table = jit_table({n: runs[n] for n in names})
    print(f"\n{env_id}\n{table}")
    for name in names:
        run = runs[name]
        where = f"{name} (ran on the {run.mode}{': ' + run.reason if run.reason else ''})"
        assert run.status == "ok" and run.usable, f"{where}: {run.status}: {run.detail}"
        expected = ANSWERS[name]["answers"]
        assert isinstance(expected, list)
        diff = [i for i, (a, b) in enumerate(zip(run.answers, expected, strict=True)) if a != b]
        assert not diff, f"{where}: sandbox and raw exec differ on frames {diff}\n{table}"


@pytest.mark.parametrize("env_id", ENVS)
def test_sandbox_answers_equal_raw_exec(env_id: str, runs: dict[str, Run]) -> None:
    assert {n for n in _names(env_id) if n in runs}, env_id  # every env keeps checkers
    _check_env(env_id, runs)


@pytest.mark.long
@pytest.mark.parametrize("env_id", ENVS)
def test_full_corpus_sandbox_answers_equal_raw_exec(env_id: str, all_runs: dict[str, Run]) -> None:
    _check_env(env_id, all_runs)


@pytest.mark.long
def test_jit_report(all_runs: dict[str, Run]) -> None:
    """Report (never assert) which checkers ran under the JIT and why the others did not."""
    print("\n" + jit_table(all_runs))
    assert set(all_runs) == set(ANSWERS)
    assert all(run.mode in {"jit", "interpreter"} for run in all_runs.values()), jit_table(all_runs)
