"""L6, admission fuzzing: property-based tests of a checker, run inside the sandbox.

Provides:
    PALETTE: colours frames are drawn from (MiniGrid's, plus black, white and greys).
    frames: a Hypothesis strategy of H×W×3 uint8 frames built compositionally.
    Problem: one thing fuzzing found (kind, message, the frame that shows it).
    FuzzReport: the outcome: problems, warnings, fire rate, cost per frame, JIT mode.
    fuzz_checker: run the properties against a checker in isolated workers.

Bare ``arrays(uint8, (64, 64, 3))`` draws are ~99.8 % one value; :func:`frames` instead draws a
background colour, rectangles of palette colours, optional noise patches and, when given, real
frames from rollouts with rectangles painted over them. The properties, each checked per example:

* ``exception``: the checker fails (any non-ok status: error, violation, budget, contract,
  timeout, crash);
* ``nondeterministic``: two evaluations of the same frame disagree;
* ``mutation``: the caller's frame changed (it never can: frames are copied and read-only);
* ``jit_mismatch``: the JIT kernel and the interpreter path disagree;

and over the whole run: ``constant`` (fires on every frame: a degenerate predicate; never firing on
synthetic frames is only a warning, since real goals rarely appear in random scenes) and
``too_slow`` (cost per frame above the limit). Hypothesis shrinks the frame that shows a problem, so
feedback to a model can name a small counter-example. Checker code runs only in sandbox workers.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sandbox.frames import Frame, FrameBatch

if TYPE_CHECKING:
    from sandbox.pool import Sandbox

__all__ = ["PALETTE", "FuzzReport", "Problem", "frames", "fuzz_checker"]

PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (255, 255, 255),
    (100, 100, 100),
    (76, 76, 76),
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (112, 39, 195),
    (255, 255, 0),
    (128, 128, 128),
    (200, 40, 40),
)


@st.composite
def _scene(
    draw: Any,
    height: st.SearchStrategy[int],
    width: st.SearchStrategy[int],
    real: FrameBatch | None,
) -> Frame:
    if real is not None and len(real) and draw(st.booleans()):
        frame = np.array(real[draw(st.integers(0, len(real) - 1))], dtype=np.uint8, copy=True)
        h, w = frame.shape[:2]
    else:
        h, w = draw(height), draw(width)
        frame = np.empty((h, w, 3), np.uint8)
        frame[...] = draw(st.sampled_from(PALETTE))
    for _ in range(draw(st.integers(0, 6))):
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
        frame[y0:y1, x0:x1] = draw(st.sampled_from(PALETTE))
    if draw(st.integers(0, 4)) == 0:
        seed = draw(st.integers(0, 2**32 - 1))
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        patch = frame[y0:, x0:]
        patch[...] = np.random.default_rng(seed).integers(0, 256, patch.shape, dtype=np.uint8)
    return frame


def frames(
    *,
    height: st.SearchStrategy[int] | None = None,
    width: st.SearchStrategy[int] | None = None,
    real: FrameBatch | None = None,
) -> st.SearchStrategy[Frame]:
    """Strategy of RGB uint8 frames built from palette scenes, noise and (optionally) real frames.

    Args:
        height: strategy for the height of synthetic frames (default 16..96).
        width: strategy for the width of synthetic frames (default 16..96).
        real: (N, H, W, 3) frames from real rollouts; about half the examples start from one.

    Returns:
        A strategy of (H, W, 3) uint8 arrays.

    Example:
        >>> from hypothesis import find
        >>> f = find(frames(), lambda f: f.shape[0] > 20)
        >>> f.dtype, f.shape[2]
        (dtype('uint8'), 3)
    """
    return _scene(
        height if height is not None else st.integers(16, 96),
        width if width is not None else st.integers(16, 96),
        real,
    )


@dataclass(frozen=True)
class Problem:
    """Something fuzzing found.

    Attributes:
        kind: ``exception``, ``nondeterministic``, ``mutation``, ``jit_mismatch``, ``constant``
            or ``too_slow``.
        message: what happened, with the checker's status and detail where there is one.
        frame: the (shrunk) frame that shows it, when there is one.
    """

    kind: str
    message: str
    frame: NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """One line for humans and for feedback to a model."""
        where = ""
        if self.frame is not None:
            colours = np.unique(self.frame.reshape(-1, 3), axis=0)
            shown = ", ".join(str(tuple(int(v) for v in c)) for c in colours[:4])
            more = f" (+{len(colours) - 4} more)" if len(colours) > 4 else ""
            where = f" on a {self.frame.shape[0]}x{self.frame.shape[1]} frame with colours {shown}{more}"
        return f"{self.kind}: {self.message}{where}"


@dataclass(frozen=True)
class FuzzReport:
    """The outcome of fuzzing one checker.

    Attributes:
        path: the checker's label.
        examples: how many frames were tried.
        problems: what rejects the checker (empty when it passed).
        warnings: what does not reject it but deserves a look.
        fire_rate: fraction of tried frames on which it answered True.
        us_per_frame: median cost per frame in a batch of 64, process hop included.
        jit: ``jit`` or ``interpreter (reason)``.
        isolation: the sandbox level used.
    """

    path: str
    examples: int
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    fire_rate: float
    us_per_frame: float
    jit: str
    isolation: str

    @property
    def ok(self) -> bool:
        """True when fuzzing found no problem."""
        return not self.problems


class _Found(Exception):
    def __init__(self, kind: str, message: str, frame: Frame) -> None:
        super().__init__(kind, message)
        self.kind, self.message, self.frame = kind, message, frame


def fuzz_checker(
    source: str,
    *,
    path: str = "<checker>",
    entry: str = "check",
    examples: int = 100,
    real_frames: FrameBatch | None = None,
    first_frames: FrameBatch | None = None,
    isolation: str | None = None,
    seed: int = 0,
    max_us_per_frame: float = 20_000.0,
    timeout: float = 5.0,
    sandbox: Sandbox | None = None,
) -> FuzzReport:
    """Fuzz a checker inside sandbox workers (JIT and interpreter paths both, when jitted).

    Args:
        source: the checker's source (audited first: a rejected source raises ``AuditError``).
        path: label for errors and the report.
        entry: the entry function's name.
        examples: how many frames Hypothesis tries (before shrinking).
        real_frames: (N, H, W, 3) frames from real rollouts to start examples from.
        first_frames: (M, H, W, 3) first frames of real episodes, for a ``check(frame, first)``
            checker: each example is paired with one of them as ``first``, and synthetic frames
            take their size (``real_frames``, if given, must have it too). ``None``: ``first`` is
            the frame itself, which only suits ``check(frame)`` checkers.
        isolation: sandbox isolation level (default: the strongest available).
        seed: makes the run reproducible (Hypothesis runs derandomised).
        max_us_per_frame: cost above which the checker is ``too_slow``.
        timeout: seconds per checker per batch before the worker is killed.
        sandbox: a JIT-enabled :class:`~sandbox.pool.Sandbox` already running exactly
            ``source`` (one checker) to fuzz in, left open for the caller (the admission gate
            verifies in the same workers); ``None``: one is started and closed here.

    Returns:
        The :class:`FuzzReport`.
    """
    from sandbox.pool import Sandbox

    if first_frames is not None:
        firsts = np.asarray(first_frames)
        if firsts.dtype != np.uint8 or firsts.ndim != 4 or firsts.shape[-1] != 3 or not len(firsts):
            raise ValueError(
                f"first_frames: expected (M, H, W, 3) uint8 with M >= 1, got {firsts.dtype} "
                f"{firsts.shape}"
            )
        if real_frames is not None and tuple(np.shape(real_frames)[1:3]) != firsts.shape[1:3]:
            raise ValueError(
                f"real_frames are {np.shape(real_frames)[1:3]} pixels, first_frames "
                f"{firsts.shape[1:3]}: a frame and its first frame must have one size"
            )
        size: tuple[st.SearchStrategy[int], st.SearchStrategy[int]] | None = (
            st.just(int(firsts.shape[1])),
            st.just(int(firsts.shape[2])),
        )
        pick: st.SearchStrategy[int] = st.integers(0, len(firsts) - 1)
    else:
        firsts, size, pick = None, None, st.just(-1)
    problems: list[Problem] = []
    warnings: list[str] = []
    answers: list[bool] = []
    kwargs: dict[str, Any] = {
        "names": [path],
        "entry": entry,
        "isolation": isolation,
        "timeout": timeout,
        "spare": False,
    }
    if sandbox is not None and list(sandbox.sources) != [source]:
        raise ValueError("sandbox: it must run exactly the fuzzed source, and only it")
    with contextlib.ExitStack() as stack:
        jit_box = sandbox or stack.enter_context(Sandbox([source], jit=True, **kwargs))
        interp_box = stack.enter_context(Sandbox([source], jit=False, **kwargs))
        mode, why = jit_box.jit_modes[0]
        jitted = mode == "jit"

        def evaluate(box: Sandbox, frame: Frame, first: Frame) -> bool:
            before = frame.copy()
            r = box.evaluate(frame[None], first[None])
            if not np.array_equal(before, frame):
                raise _Found("mutation", "the caller's frame changed during the call", before)
            if r.statuses[0] != "ok":
                raise _Found("exception", f"{r.statuses[0]}: {r.details[0]}", frame)
            return bool(r.results[0, 0])

        @settings(
            max_examples=examples,
            database=None,
            derandomize=True,
            deadline=None,
            phases=(Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(
            frames(
                height=size[0] if size else None, width=size[1] if size else None, real=real_frames
            ),
            pick,
        )
        def properties(frame: Frame, index: int) -> None:
            episode_first = frame if firsts is None else firsts[index]
            first = evaluate(jit_box, frame, episode_first)
            if evaluate(jit_box, frame, episode_first) != first:
                raise _Found("nondeterministic", "two calls on the same frame disagree", frame)
            if jitted:
                interpreted = evaluate(interp_box, frame, episode_first)
                if interpreted != first:
                    raise _Found(
                        "jit_mismatch",
                        f"JIT answered {first}, the interpreter {interpreted}",
                        frame,
                    )
            answers.append(first)

        np.random.seed(seed)  # Hypothesis' derandomised run is keyed by the test; keep ours too
        try:
            properties()
        except _Found as found:
            problems.append(Problem(found.kind, found.message, found.frame))
        cost = _cost_per_frame(jit_box, real_frames if firsts is None else firsts)

    fire_rate = float(np.mean(answers)) if answers else 0.0
    if answers and not problems:
        if all(answers):
            problems.append(
                Problem(
                    "constant",
                    f"answered True on all {len(answers)} diverse frames: the predicate "
                    "does not depend on the frame (degenerate)",
                )
            )
        elif not any(answers):
            warnings.append(
                f"never fired on {len(answers)} diverse frames; check it on real rollouts"
            )
    if cost > max_us_per_frame:
        problems.append(
            Problem(
                "too_slow",
                f"{cost:,.0f} µs per frame exceeds the limit of {max_us_per_frame:,.0f} µs",
            )
        )
    return FuzzReport(
        path=path,
        examples=len(answers),
        problems=tuple(problems),
        warnings=tuple(warnings),
        fire_rate=fire_rate,
        us_per_frame=cost,
        jit="jit" if jitted else f"interpreter ({why})",
        isolation=jit_box.isolation,
    )


def _cost_per_frame(box: Any, real_frames: FrameBatch | None, n: int = 64) -> float:
    rng = np.random.default_rng(0)
    if real_frames is not None and len(real_frames):
        batch = np.ascontiguousarray(real_frames[rng.integers(0, len(real_frames), n)])
    else:
        batch = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    box.evaluate(batch)
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        result = box.evaluate(batch)
        samples.append(time.perf_counter() - t0)
        if not result.ok:
            break
    return float(np.median(samples)) / n * 1e6
