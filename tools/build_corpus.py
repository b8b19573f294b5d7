"""Record the model-style checker corpus's frames and write its reference answers.

The corpus (``tests/sandbox/data/corpus/``) holds checkers written in the styles vision-language
models produce for the ``checker_v1`` prompt, one per file, each headed by a line
``# corpus: style=...; env=...; label=...; idioms=...``. This script:

1. records, per environment the corpus covers, a small set of real frames with deterministic
   seeds (``frames_<env>.npz``): full expert episodes, rollouts that follow the expert for a few
   steps and then act randomly (so keys get dropped, doors get toggled, cubes get half pushed) and
   plain random rollouts; each frame comes with its episode's first frame (``firsts``, the
   ``first`` argument of ``check(frame, first)``), its ground-truth labels (one bool array per
   label, :mod:`rl.labels`), its episode number and where it came from (``source``);
2. runs every checker by raw ``exec`` with the real numpy module (no sandbox, no audit, no
   RestrictedPython; the vision helpers are the plain :mod:`sandbox.vision` functions) on every
   frame of its environment's file, and audits it with :func:`sandbox.audit.audit`;
3. writes ``answers.json``: per checker file its style, env, label, idioms, audit verdict (and
   findings), the raw-exec answers (one bool per frame) and their agreement with the label.

``tests/sandbox/test_corpus.py`` then checks that the sandbox (every layer, JIT where a checker
fits the subset) gives exactly these answers.

Usage::

    .venv/bin/python tools/build_corpus.py                  # record frames, write answers
    .venv/bin/python tools/build_corpus.py --answers-only   # keep the frames, redo the answers
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "sandbox" / "data" / "corpus"
HEADER = re.compile(r"^# corpus: (?P<fields>.+)$", re.MULTILINE)
#: Most frames kept per environment (frames where the env's last label holds are always kept).
MAX_FRAMES = 80


@dataclass(frozen=True)
class Recipe:
    """How one environment's frames are recorded.

    Attributes:
        env_id: the environment.
        expert_seeds: seeds of full expert episodes.
        mixed: ``(seed, expert steps, length)`` of rollouts that follow the expert for some steps
            and then take seeded random actions.
        random: ``(seed, length)`` of random rollouts.
    """

    env_id: str
    expert_seeds: tuple[int, ...]
    mixed: tuple[tuple[int, int, int], ...]
    random: tuple[tuple[int, int], ...]


RECIPES: tuple[Recipe, ...] = (
    Recipe("MiniGrid-DoorKey-5x5-v0", (0, 1, 2), ((10, 4, 20), (11, 7, 20)), ((20, 20),)),
    Recipe("MiniGrid-DoorKey-8x8-v0", (0, 1), ((10, 6, 20), (11, 12, 20)), ((20, 16),)),
    Recipe("MiniGrid-UnlockPickup-v0", (0, 1), ((10, 5, 18), (11, 12, 18)), ((20, 14),)),
    Recipe("MiniGrid-KeyCorridorS3R1-v0", (0, 1, 2), ((10, 4, 16), (11, 9, 16)), ((20, 14),)),
    Recipe("PandaPush-v3", (0, 1), ((10, 12, 20),), ((20, 12),)),
)


class ExpertThenRandom:
    """A policy that follows the env's scripted expert for ``k`` steps, then acts at random."""

    def __init__(self, env: Any, k: int, seed: int) -> None:
        from rl.experts import ExpertPolicy

        self.expert = ExpertPolicy(env)
        self.space = env.action_space
        self.k = k
        self.seed = seed
        self.steps = 0
        self.episodes = 0

    def reset(self) -> None:
        """Start a new episode: follow the expert again for ``k`` steps."""
        self.expert.reset()
        self.space.seed(self.seed + self.episodes)
        self.episodes += 1
        self.steps = 0

    def __call__(self, obs: Any = None) -> Any:
        """Return the next action."""
        self.steps += 1
        return self.expert.act() if self.steps <= self.k else self.space.sample()


def _mixed_factory(k: int, seed: int) -> Callable[[Any], ExpertThenRandom]:
    def factory(env: Any) -> ExpertThenRandom:
        return ExpertThenRandom(env, k, seed)

    return factory


def file_stem(env_id: str) -> str:
    """``frames_<stem>.npz`` of an environment: its id without the ``MiniGrid-`` prefix."""
    return env_id.removeprefix("MiniGrid-")


def frames_path(env_id: str) -> Path:
    """The recorded frames of one environment."""
    return CORPUS / f"frames_{file_stem(env_id)}.npz"


def _select(final: np.ndarray, n_max: int) -> np.ndarray:
    """Indices of at most ``n_max`` frames: every frame where ``final`` holds, the rest evenly."""
    n = len(final)
    if n <= n_max:
        return np.arange(n)
    keep = set(np.flatnonzero(final).tolist())
    rest = [i for i in range(n) if i not in keep]
    room = max(0, n_max - len(keep))
    picked = np.linspace(0, len(rest) - 1, room).round().astype(int) if room else []
    keep.update(rest[i] for i in picked)
    return np.array(sorted(keep), dtype=np.int64)


def record(recipe: Recipe) -> dict[str, np.ndarray]:
    """Roll out ``recipe`` and return the arrays of its ``.npz``."""
    from rl.rollouts import Trajectory, rollout

    runs: list[tuple[str, Trajectory]] = []
    for seed in recipe.expert_seeds:
        runs.append(("expert", rollout(recipe.env_id, policy="expert", seed=seed)))
    for seed, k, length in recipe.mixed:
        factory = _mixed_factory(k, seed)
        runs.append(("mixed", rollout(recipe.env_id, policy=factory, seed=seed, length=length)))
    for seed, length in recipe.random:
        runs.append(("random", rollout(recipe.env_id, policy="random", seed=seed, length=length)))
    names = runs[0][1].label_names
    frames, firsts, labels, episode, source = [], [], [], [], []
    offset = 0
    for kind, t in runs:
        frames.append(t.frames)
        firsts.append(t.firsts)
        labels.append(t.labels)
        episode.append(t.episode + offset)
        offset += t.n_episodes
        source.extend([kind] * len(t))
    all_labels = np.concatenate(labels)
    idx = _select(all_labels[:, -1], MAX_FRAMES)
    out: dict[str, np.ndarray] = {
        "frames": np.concatenate(frames)[idx],
        "firsts": np.concatenate(firsts)[idx],
        "episode": np.concatenate(episode)[idx],
        "source": np.array(source)[idx],
        "label_names": np.array(names),
    }
    for j, name in enumerate(names):
        out[name] = all_labels[idx, j]
    return out


def parse_header(text: str) -> dict[str, str]:
    """The ``# corpus:`` header fields of a checker file (``style``, ``env``, ``label``, ``idioms``)."""
    match = HEADER.search(text)
    if match is None:
        raise ValueError("no '# corpus: style=...; env=...; label=...; idioms=...' line")
    fields = {}
    for part in match.group("fields").split(";"):
        key, _, value = part.strip().partition("=")
        fields[key.strip()] = value.strip()
    missing = {"style", "env", "label", "idioms"} - set(fields)
    if missing:
        raise ValueError(f"header lacks {sorted(missing)}")
    return fields


def checker_files() -> list[Path]:
    """The corpus's checker files, in name order."""
    return sorted(CORPUS.glob("[0-9][0-9]_*.py"))


def raw_check(source: str) -> Callable[[np.ndarray, np.ndarray], Any]:
    """The checker by plain ``exec`` with real numpy: ``check(frame, first)`` whatever its arity.

    No sandbox, no audit, no RestrictedPython; the vision helpers are the plain
    :mod:`sandbox.vision` functions. For this project's own corpus files only (trusted).
    """
    import inspect

    from sandbox.vision import VISION_HELPERS

    namespace: dict[str, Any] = {"__name__": "corpus_checker", **VISION_HELPERS}
    exec(compile(source, "<corpus>", "exec"), namespace)  # trusted: our own corpus files
    check = namespace["check"]
    if len(inspect.signature(check).parameters) == 2:
        return check  # type: ignore[no-any-return]
    return lambda frame, first: check(frame)


def raw_answers(source: str, frames: np.ndarray, firsts: np.ndarray) -> list[bool]:
    """Run a checker by plain ``exec`` with real numpy on every frame (no sandbox at all).

    Raises:
        TypeError: the checker returned something other than ``bool``/``numpy.bool_``.
    """
    check = raw_check(source)
    answers = []
    for i in range(len(frames)):
        frame = frames[i].copy()
        frame.flags.writeable = False
        first = firsts[i].copy()
        first.flags.writeable = False
        value = check(frame, first)
        if type(value) not in (bool, np.bool_):
            raise TypeError(f"frame {i}: returned {type(value).__name__}, not bool")
        answers.append(bool(value))
    return answers


def build_answers(paths: Sequence[Path]) -> dict[str, Any]:
    """Audit and raw-run every checker; return the ``answers.json`` document."""
    from sandbox.audit import audit

    loaded: dict[str, dict[str, np.ndarray]] = {}
    out: dict[str, Any] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        meta = parse_header(text)
        env_id = meta["env"]
        if env_id not in loaded:
            with np.load(frames_path(env_id)) as data:
                loaded[env_id] = {k: data[k] for k in data.files}
        data = loaded[env_id]
        report = audit(text, path=path.name)
        answers = raw_answers(text, data["frames"], data["firsts"])
        truth = data[meta["label"]].astype(bool)
        got = np.array(answers, dtype=bool)
        out[path.name] = {
            "style": meta["style"],
            "env": env_id,
            "label": meta["label"],
            "idioms": [s.strip() for s in meta["idioms"].split(",") if s.strip()],
            "audit_ok": bool(report.ok),
            "audit_findings": [f"{f.code} {f.line}:{f.col} {f.message}" for f in report.findings],
            "answers": answers,
            "agreement": round(float(np.mean(got == truth)), 4),
            "true_positives": int(np.sum(got & truth)),
            "false_positives": int(np.sum(got & ~truth)),
            "false_negatives": int(np.sum(~got & truth)),
            "label_true": int(truth.sum()),
            "n_frames": len(answers),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Record the frames (unless ``--answers-only``) and write ``answers.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--answers-only", action="store_true", help="keep the recorded frames; redo answers.json"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    CORPUS.mkdir(parents=True, exist_ok=True)
    paths = checker_files()
    envs = {parse_header(p.read_text(encoding="utf-8"))["env"] for p in paths}
    if not args.answers_only:
        for recipe in RECIPES:
            if paths and recipe.env_id not in envs:
                continue
            arrays = record(recipe)
            np.savez_compressed(frames_path(recipe.env_id), **arrays)  # type: ignore[arg-type]
            counts = {n: int(arrays[n].sum()) for n in arrays["label_names"].tolist()}
            print(f"{recipe.env_id}: {len(arrays['frames'])} frames, label counts {counts}")
    doc = build_answers(paths)
    (CORPUS / "answers.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for name, entry in doc.items():
        flag = "" if entry["audit_ok"] else "  AUDIT REJECTED"
        print(f"{name:44s} {entry['style']:8s} {entry['label']:15s} {entry['agreement']:.3f}{flag}")
    print(f"{len(doc)} checkers -> {CORPUS / 'answers.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
