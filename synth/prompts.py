"""Versioned prompt templates and the functions that fill them in.

Provides:
    PROMPT_VERSIONS: prompt kind -> the template version in use (``decompose_v1`` ...).
    load_template / template_sha256: a template's text and its hash (for provenance).
    render_decompose: start and goal images + task -> messages asking for sub-tasks as JSON.
    render_checker: one sub-task -> messages asking for one checker in a ```python block.
    render_refine: a rejected checker + :class:`Feedback` -> messages asking for a fix.
    Feedback, AuditItem, VerificationStats: what went wrong, rendered compactly.
    surface_text / rules_text: the sandbox's allowed surface and audit rules, as prompt text,
        generated from :mod:`sandbox.surface`, :mod:`sandbox.vision` and :data:`sandbox.RULES`
        so the prompt never drifts from what the sandbox accepts.

Templates are Markdown files in ``synth/prompts/<version>.md``. A file holds a comment for
maintainers, then ``<!-- role: system -->`` and ``<!-- role: user -->`` sections. ``{{name}}``
is replaced by a value (once: values are never re-scanned), ``{{image:name}}`` by an image part.
A line holding only a placeholder whose value is empty is dropped, as is a line holding an image
placeholder whose image is not given. Every unknown or unfilled placeholder is an error. A
released version is never edited in place (recordings are keyed on the rendered text): copy it
to the next version and point :data:`PROMPT_VERSIONS` at the copy.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from synth.errors import SynthError, excerpt
from synth.vlm import ImagePart, Message, Part

__all__ = [
    "CANDIDATE_NOTE",
    "PROMPT_VERSIONS",
    "AuditItem",
    "Feedback",
    "PromptError",
    "SubtaskLike",
    "VerificationStats",
    "load_template",
    "render_checker",
    "render_decompose",
    "render_refine",
    "render_template",
    "rules_text",
    "surface_text",
    "template_sha256",
    "with_candidate",
]

#: Prompt kind -> template version in use. Each version is a file ``synth/prompts/<version>.md``.
PROMPT_VERSIONS: Mapping[str, str] = MappingProxyType(
    {"decompose": "decompose_v1", "checker": "checker_v1", "refine": "refine_v1"}
)

#: Appended to a checker or refine request when several candidates are sampled per sub-task
#: (``vlmcar synth --candidates N``): it makes each candidate's request distinct, so a recording
#: replays each candidate's own reply whatever order the calls finish in, and it tells the model
#: how the candidates are compared. Its sha256 is stored in the bundle's provenance.
CANDIDATE_NOTE = (
    "(Candidate {k} of {n} for this sub-task. The candidates are compared on verification: "
    "firing on every expert trajectory, rarely on random play, and cost per frame. Write the "
    "checker you think best; it need not resemble the others.)"
)

#: Most items of one kind (findings, counter-examples ...) shown in a feedback prompt.
MAX_FEEDBACK_ITEMS = 8

_VERSION_RE = re.compile(r"[a-z][a-z0-9_]*_v[0-9]+")
_ROLE_RE = re.compile(r"^<!-- role: (system|user|assistant) -->[ \t]*$", re.MULTILINE)
_PLACEHOLDER_RE = re.compile(r"\{\{\s*(image:)?([a-z_][a-z0-9_]*)\s*\}\}")
_WIDTH = 96


class PromptError(SynthError, ValueError):
    """A template is missing or malformed, or a render left a placeholder unfilled.

    Attributes:
        version: the template version.
        problem: what is wrong.
    """

    def __init__(self, version: str, problem: str) -> None:
        super().__init__(version, problem)
        self.version = version
        self.problem = problem

    def __str__(self) -> str:
        return f"prompt template {self.version!r}: {self.problem}"


class _Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...


#: A sub-task: ``(name, description)`` or an object with those attributes (e.g. ``SubTask``).
SubtaskLike = tuple[str, str] | _Named


def _pair(subtask: SubtaskLike) -> tuple[str, str]:
    if isinstance(subtask, tuple):
        name, description = subtask
        return str(name), str(description)
    return str(subtask.name), str(subtask.description)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


@cache
def load_template(version: str) -> str:
    """Return the text of template ``version`` (e.g. ``checker_v1``).

    Raises:
        PromptError: if the name is malformed or no such file ships with the package.
    """
    if not _VERSION_RE.fullmatch(version):
        raise PromptError(version, "a version id looks like 'checker_v1'")
    path = resources.files("synth") / "prompts" / f"{version}.md"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(version, f"no template file {version}.md in synth/prompts") from None


def template_sha256(version: str) -> str:
    """Hex sha256 of a template's file text (record it with generated programs)."""
    return hashlib.sha256(load_template(version).encode("utf-8")).hexdigest()


def _sections(version: str) -> list[tuple[str, str]]:
    text = load_template(version).replace("\r\n", "\n")
    marks = list(_ROLE_RE.finditer(text))
    if not marks:
        raise PromptError(version, "no '<!-- role: ... -->' section")
    sections = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections.append((m.group(1), text[m.end() : end].strip("\n")))
    return sections


def _drop_empty_lines(
    body: str, values: Mapping[str, str], images: Mapping[str, ImagePart | None]
) -> str:
    """Drop template lines whose only placeholder is empty, and image lines without an image."""
    kept: list[str] = []
    for line in body.split("\n"):
        found = list(_PLACEHOLDER_RE.finditer(line))
        if any(m.group(1) and m.group(2) in images and images[m.group(2)] is None for m in found):
            continue
        only = _PLACEHOLDER_RE.fullmatch(line.strip())
        if only and not only.group(1) and values.get(only.group(2)) == "":
            continue
        if not line.strip() and kept and not kept[-1].strip():
            continue  # collapse the blank lines a dropped line leaves behind
        kept.append(line)
    return "\n".join(kept).strip("\n")


def _fill(
    version: str,
    body: str,
    values: Mapping[str, str],
    images: Mapping[str, ImagePart | None],
    used: set[str],
) -> list[Part]:
    """Substitute one section's placeholders (one pass) and split it at its images."""
    parts: list[Part] = []
    chunks: list[str] = []

    def flush() -> None:
        text = "".join(chunks).strip("\n")
        chunks.clear()
        if text.strip():
            parts.append(text)

    pos = 0
    for m in _PLACEHOLDER_RE.finditer(body):
        chunks.append(body[pos : m.start()])
        pos = m.end()
        is_image, name = bool(m.group(1)), m.group(2)
        if is_image:
            image = images.get(name)
            if image is None:
                raise PromptError(version, f"no image for placeholder {{{{image:{name}}}}}")
            used.add("image:" + name)
            flush()
            parts.append(image)
        else:
            if name not in values:
                raise PromptError(version, f"no value for placeholder {{{{{name}}}}}")
            used.add(name)
            chunks.append(values[name])
    chunks.append(body[pos:])
    flush()
    return parts


def render_template(
    version: str,
    values: Mapping[str, str],
    images: Mapping[str, ImagePart | None] | None = None,
) -> list[Message]:
    """Fill template ``version`` and return its messages.

    ``{{version}}`` is always available. Values are inserted as they are, in one pass.

    Args:
        version: the template version, e.g. ``checker_v1``.
        values: text placeholder values.
        images: image placeholder values (``None`` drops the image's line).

    Returns:
        One message per role section, text and image parts in template order.

    Raises:
        PromptError: a placeholder has no value, or a value or image is never used.
    """
    values = {"version": version, **values}
    images = dict(images or {})
    used: set[str] = set()
    messages: list[Message] = []
    for role, raw in _sections(version):
        body = _drop_empty_lines(raw, values, images)
        parts = _fill(version, body, values, images, used)
        messages.append(Message(role, tuple(parts)))  # type: ignore[arg-type]
    unused = {k for k in values if k != "version" and k not in used and values[k] != ""}
    unused |= {
        "image:" + k for k, v in images.items() if v is not None and "image:" + k not in used
    }
    if unused:
        raise PromptError(version, f"values given but not used: {', '.join(sorted(unused))}")
    return messages


# --------------------------------------------------------------------------------------------
# The sandbox's surface, as prompt text
# --------------------------------------------------------------------------------------------


def _wrap(label: str, names: Sequence[str]) -> str:
    return textwrap.fill(
        f"- {label}: " + ", ".join(names),
        width=_WIDTH,
        subsequent_indent="  ",
        break_on_hyphens=False,
    )


def _doc_summary(fn: Any) -> str:
    doc = inspect.getdoc(fn) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    returns = ""
    lines = doc.split("\n")
    for i, line in enumerate(lines):
        if line.strip() == "Returns:":
            block = []
            for follow in lines[i + 1 :]:
                if not follow.strip() or not follow.startswith(" "):
                    break
                block.append(follow.strip())
            returns = " ".join(block)
            break
    text = first
    if returns:
        text += " Returns " + returns[0].lower() + returns[1:]
    return re.sub(r":(?:func|class|data):", "", text).replace("``", "`")


def _signature(name: str, fn: Any) -> str:
    params = []
    for p in inspect.signature(fn).parameters.values():
        params.append(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}")
    return f"{name}({', '.join(params)})"


@cache
def surface_text() -> str:
    """The checker's allowed surface as Markdown, generated from :mod:`sandbox.surface`.

    Lists the builtins (less the reserved names), exception classes, ``np.`` functions, dtypes
    and constants, ``math.`` names, array attributes, methods of the built-in containers, and the
    vision helpers with their signatures and one-line docs (from :mod:`sandbox.vision`).
    """
    from sandbox import surface
    from sandbox.vision import VISION_HELPERS

    builtins = sorted(surface.BUILTIN_NAMES - surface.RESERVED_NAMES)
    containers = [
        f"{t}: " + " ".join(sorted(names))
        for t, names in sorted(surface.ATTRIBUTES.items())
        if t not in ("ndarray", "generic", "mappingproxy")
    ]
    lines = [
        _wrap("Builtins", builtins),
        _wrap("Exceptions (for try/except)", sorted(surface.EXCEPTION_NAMES)),
        _wrap("numpy functions, as np.<name>", sorted(surface.NUMPY_FUNCTIONS)),
        _wrap("numpy types, as np.<name> (also for dtype=)", sorted(surface.NUMPY_DTYPES)),
        _wrap("numpy constants", [f"np.{n}" for n in sorted(surface.NUMPY_CONSTANTS)]),
        _wrap(
            "numpy members, as np.<name>.<member>",
            [f"np.{n}.{m}" for n, ms in sorted(surface.NUMPY_MEMBERS.items()) for m in sorted(ms)],
        ),
        _wrap(
            "numpy types, for isinstance(x, np.<name>) only",
            [f"np.{n}" for n in sorted(surface.NUMPY_TYPES)],
        ),
        _wrap("math, as math.<name>", sorted(surface.MATH_NAMES)),
        textwrap.fill(
            "- Module-level constants (computed before the checker runs, then frozen): numbers, "
            "strings, tuples, lists, dicts and sets of them (a list becomes a tuple), arithmetic "
            "on earlier constants, and `NAME = np.array(<literal>, dtype=np.uint8)` (or "
            "`np.asarray`, any numeric dtype): a read-only array",
            width=_WIDTH,
            subsequent_indent="  ",
            break_on_hyphens=False,
        ),
        _wrap(
            "Array and numpy-scalar attributes and methods",
            sorted(surface.ATTRIBUTES.get("ndarray", ())),
        ),
        _wrap("Methods of built-in values", containers),
        "- Vision helpers, called by name without an import (trusted, compiled, fast):",
    ]
    for name in sorted(surface.VISION_NAMES):
        fn = VISION_HELPERS.get(name)
        if fn is None:
            lines.append(f"  - `{name}`")
            continue
        lines.append(
            textwrap.fill(
                f"  - `{_signature(name, fn)}`: {_doc_summary(fn)}",
                width=_WIDTH,
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


@cache
def rules_text() -> str:
    """The audit's rules as one line each (``code summary -> instead``), from ``sandbox.RULES``."""
    from sandbox import RULES

    return "\n".join(
        f"- {r.code}: {r.summary} Instead: {r.instead}" for r in RULES.values()
    ).replace("``", "`")


# --------------------------------------------------------------------------------------------
# Feedback
# --------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Collapse whitespace runs (newlines included) to single spaces."""
    return " ".join(text.split())


def _tuple_of_str(values: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,) if values else ()
    return tuple(str(v) for v in values)


@dataclass(frozen=True)
class AuditItem:
    """One static-audit finding to report back.

    Attributes:
        code: rule code, e.g. ``A502``.
        line: 1-based line in the previous source (0 when unknown).
        message: what was found.
        hint: what to write instead.
    """

    code: str
    line: int
    message: str
    hint: str = ""

    @classmethod
    def from_finding(cls, finding: Any) -> AuditItem:
        """Convert anything with ``code``, ``line``, ``message`` and ``hint`` (``sandbox.Finding``)."""
        return cls(
            str(finding.code),
            int(finding.line),
            str(finding.message),
            str(getattr(finding, "hint", "") or ""),
        )


@dataclass(frozen=True)
class VerificationStats:
    """How the checker behaved on recorded trajectories.

    Attributes:
        expert_fire_rate: fraction of expert trajectories in which it fired at least once.
        random_fire_rate: fraction of random rollouts in which it fired at least once.
        precision: per-frame precision against ground truth (built-in environments).
        recall: per-frame recall against ground truth.
        n_expert: number of expert trajectories.
        n_random: number of random rollouts.
        random_length: steps per random rollout.
        first_frame_fire_rate: fraction of episodes in which it fired on the very first frame.
        order_problems: sub-task order violations, e.g. "fired before key_picked in 7/20".
        notes: anything else, one short line each.
    """

    expert_fire_rate: float | None = None
    random_fire_rate: float | None = None
    precision: float | None = None
    recall: float | None = None
    n_expert: int | None = None
    n_random: int | None = None
    random_length: int | None = None
    first_frame_fire_rate: float | None = None
    order_problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_problems", _tuple_of_str(self.order_problems))
        object.__setattr__(self, "notes", _tuple_of_str(self.notes))

    def lines(self) -> list[str]:
        """The statistics as short lines."""

        def rate(value: float, n: int | None) -> str:
            count = f" ({round(value * n)}/{n})" if n else ""
            return f"{value:.0%}{count}"

        out = []
        if self.expert_fire_rate is not None:
            out.append(
                f"fired in {rate(self.expert_fire_rate, self.n_expert)} of the expert "
                "trajectories (each of them completes this sub-task)"
            )
        if self.random_fire_rate is not None:
            length = f" of {self.random_length} steps" if self.random_length else ""
            out.append(
                f"fired in {rate(self.random_fire_rate, self.n_random)} of the random "
                f"rollouts{length}"
            )
        if self.first_frame_fire_rate is not None:
            out.append(
                f"fired on the very first frame in {self.first_frame_fire_rate:.0%} of episodes"
            )
        if self.precision is not None or self.recall is not None:
            p = "n/a" if self.precision is None else f"{self.precision:.2f}"
            r = "n/a" if self.recall is None else f"{self.recall:.2f}"
            out.append(
                f"per-frame precision {p}, recall {r} against the ground truth "
                "(low precision: fires when the sub-task is not done; low recall: misses it)"
            )
        out += [f"order: {p}" for p in self.order_problems]
        out += list(self.notes)
        return out


@dataclass(frozen=True)
class Feedback:
    """Everything that went wrong with a checker, for the refine prompt.

    Attributes:
        audit: static-audit findings.
        counterexamples: fuzzing counter-examples, one short text each.
        stats: verification statistics.
        runtime_errors: errors raised while running (text each).
        reply_problem: why the previous reply could not be used (``ReplyError.feedback()``).
        notes: anything else, one short line each.
    """

    audit: tuple[AuditItem, ...] = ()
    counterexamples: tuple[str, ...] = ()
    stats: VerificationStats | None = None
    runtime_errors: tuple[str, ...] = ()
    reply_problem: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "audit", tuple(self.audit))
        for name in ("counterexamples", "runtime_errors", "notes"):
            object.__setattr__(self, name, _tuple_of_str(getattr(self, name)))

    @property
    def empty(self) -> bool:
        """True when there is nothing to report."""
        return not (
            self.audit
            or self.counterexamples
            or (self.stats is not None and self.stats.lines())
            or self.runtime_errors
            or self.reply_problem
            or self.notes
        )

    def render(self, source: str = "") -> str:
        """The feedback as compact Markdown; audit lines quote ``source`` when given."""
        lines = source.splitlines()
        blocks: list[str] = []

        def section(title: str, items: Sequence[str]) -> None:
            if not items:
                return
            shown = [f"- {excerpt(_one_line(i))}" for i in items[:MAX_FEEDBACK_ITEMS]]
            if len(items) > MAX_FEEDBACK_ITEMS:
                shown.append(f"- ... and {len(items) - MAX_FEEDBACK_ITEMS} more")
            blocks.append(f"{title}\n" + "\n".join(shown))

        if self.reply_problem:
            section("Your reply could not be used:", [self.reply_problem])
        audit = []
        for a in self.audit:
            quoted = ""
            if 0 < a.line <= len(lines):
                quoted = f" `{excerpt(lines[a.line - 1].strip(), 120)}`"
            hint = f" Instead: {a.hint}" if a.hint else ""
            where = f"line {a.line}" if a.line else "code"
            audit.append(f"{where}{quoted}: {a.code} {a.message}.{hint}")
        section(f"The static audit rejected the code ({len(self.audit)} finding(s)):", audit)
        section("Errors while running it:", self.runtime_errors)
        section("Fuzzing found frames where it misbehaves:", self.counterexamples)
        if self.stats is not None:
            section("Verification on recorded trajectories:", self.stats.lines())
        section("Also:", self.notes)
        return "\n\n".join(blocks) if blocks else "- (no specific findings)"


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _env_notes(notes: str) -> str:
    notes = notes.strip()
    return f"About this environment's rendering:\n{notes}" if notes else ""


def _shape_text(frame_shape: Sequence[int] | None) -> str:
    if not frame_shape:
        return "as shown"
    return "×".join(str(int(v)) for v in frame_shape) + " (height×width×channels)"


def _subtask_list(all_subtasks: Sequence[SubtaskLike], current: str = "") -> str:
    out = []
    for i, s in enumerate(all_subtasks, 1):
        name, description = _pair(s)
        mark = "  <- this one" if name == current else ""
        out.append(f"{i}. `{name}`: {description}{mark}")
    return "\n".join(out)


def _fence_for(source: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", source)), default=0)
    return "`" * max(3, longest + 1)


def _image(frame: npt.NDArray[np.uint8] | ImagePart | None) -> ImagePart | None:
    if frame is None or isinstance(frame, ImagePart):
        return frame
    return ImagePart.from_array(frame)


def render_decompose(
    task_text: str,
    start_frame: npt.NDArray[np.uint8] | ImagePart,
    goal_frame: npt.NDArray[np.uint8] | ImagePart,
    *,
    env_notes: str = "",
    max_subtasks: int = 8,
) -> list[Message]:
    """Messages asking the model to split a task into ordered sub-tasks, as strict JSON.

    Args:
        task_text: the task in words ("" when only the images are given).
        start_frame: the start state, H×W×3 uint8 RGB (or an image part).
        goal_frame: the goal state.
        env_notes: facts about the rendering (colours, sizes) to state, "" for none.
        max_subtasks: the largest number of sub-tasks to ask for.

    Returns:
        A system and a user message; the user message carries both images as PNG parts.
    """
    return render_template(
        PROMPT_VERSIONS["decompose"],
        {
            "task_text": task_text.strip() or "(not given: infer it from the two images)",
            "env_notes": _env_notes(env_notes),
            "max_subtasks": str(int(max_subtasks)),
        },
        {"start": _image(start_frame), "goal": _image(goal_frame)},
    )


def render_checker(
    subtask: SubtaskLike,
    all_subtasks: Sequence[SubtaskLike],
    start_frame: npt.NDArray[np.uint8] | ImagePart,
    goal_frame: npt.NDArray[np.uint8] | ImagePart,
    frame_shape: Sequence[int],
    *,
    task_text: str = "",
    env_notes: str = "",
    entry: str = "check",
) -> list[Message]:
    """Messages asking for one checker program for ``subtask``, in one ```python block.

    The request states the checker contract, the frame format and the sandbox's exact surface
    (builtins, numpy, math, attributes, vision helpers with signatures) and the audit's rules.

    Args:
        subtask: the sub-task to write a checker for, ``(name, description)``.
        all_subtasks: every sub-task in order (``subtask`` among them), for context.
        start_frame: the start state, H×W×3 uint8 RGB (or an image part).
        goal_frame: the goal state.
        frame_shape: the shape of the frames the checker will see, e.g. ``(256, 256, 3)``.
        task_text: the task in words.
        env_notes: facts about the rendering to state (e.g. MiniGrid's palette), "" for none.
        entry: the entry function's name.

    Returns:
        A system and a user message.
    """
    name, description = _pair(subtask)
    names = [_pair(s)[0] for s in all_subtasks]
    index = names.index(name) + 1 if name in names else len(names) + 1
    listing = list(all_subtasks) if name in names else [*all_subtasks, (name, description)]
    return render_template(
        PROMPT_VERSIONS["checker"],
        {
            "task_text": task_text.strip() or "(see the images)",
            "subtask_list": _subtask_list(listing, name),
            "index": str(index),
            "count": str(len(listing)),
            "name": name,
            "description": description,
            "env_notes": _env_notes(env_notes),
            "frame_shape": _shape_text(frame_shape),
            "entry": entry,
            "surface": surface_text(),
            "rules": rules_text(),
        },
        {"start": _image(start_frame), "goal": _image(goal_frame)},
    )


def render_refine(
    subtask: SubtaskLike,
    previous_source: str,
    feedback: Feedback,
    *,
    all_subtasks: Sequence[SubtaskLike] = (),
    task_text: str = "",
    start_frame: npt.NDArray[np.uint8] | ImagePart | None = None,
    goal_frame: npt.NDArray[np.uint8] | ImagePart | None = None,
    frame_shape: Sequence[int] | None = None,
    env_notes: str = "",
    entry: str = "check",
) -> list[Message]:
    """Messages asking for a corrected checker, given the rejected one and what went wrong.

    The prompt stands alone (no earlier turns are needed): it repeats the contract and the
    surface, quotes the previous source in a fence longer than any backtick run inside it, and
    renders ``feedback`` compactly. Images are included when given.

    Args:
        subtask: the sub-task, ``(name, description)``.
        previous_source: the checker that was rejected.
        feedback: what the audit, the fuzzer, verification and run time found.
        all_subtasks: every sub-task in order, for context (default: just this one).
        task_text: the task in words.
        start_frame: the start state, or None to send no image.
        goal_frame: the goal state, or None.
        frame_shape: the shape of the frames the checker will see.
        env_notes: facts about the rendering to state, "" for none.
        entry: the entry function's name.

    Returns:
        A system and a user message.
    """
    name, description = _pair(subtask)
    source = previous_source.replace("\r\n", "\n").rstrip("\n")
    return render_template(
        PROMPT_VERSIONS["refine"],
        {
            "task_text": task_text.strip() or "(see the sub-tasks)",
            "subtask_list": _subtask_list(list(all_subtasks) or [(name, description)], name),
            "name": name,
            "description": description,
            "fence": _fence_for(source),
            "previous_source": source or "# (empty)",
            "feedback": feedback.render(source),
            "env_notes": _env_notes(env_notes),
            "frame_shape": _shape_text(frame_shape),
            "entry": entry,
            "surface": surface_text(),
            "rules": rules_text(),
        },
        {"start": _image(start_frame), "goal": _image(goal_frame)},
    )


def with_candidate(messages: Sequence[Message], k: int, n: int) -> list[Message]:
    """``messages`` with :data:`CANDIDATE_NOTE` for candidate ``k`` of ``n`` appended (n > 1).

    With ``n == 1`` the messages are returned unchanged, so single-candidate requests (and their
    recordings) are what they always were.

    Example:
        >>> from synth.vlm import Message
        >>> with_candidate([Message.user("write a checker")], 2, 3)[-1].parts[-1][:28]
        '\\n\\n(Candidate 2 of 3 for this'
    """
    if n <= 1:
        return list(messages)
    if not 1 <= k <= n:
        raise ValueError(f"candidate {k} of {n}: k must be in 1..{n}")
    *head, last = messages
    note = "\n\n" + CANDIDATE_NOTE.format(k=k, n=n)
    return [*head, Message(last.role, (*last.parts, note))]
