"""Contact sheets: the frames a verification is about, in one PNG a person can look at.

Provides:
    contact_sheet: checker results on rollouts -> one H x W x 3 uint8 picture.
    write_contact_sheet: the same, written as a PNG.
    draw_text: draw text with the built-in 5 x 7 pixel font (standard library and numpy only).

For each sub-task the sheet has two rows of thumbnails, each captioned with where the frame is
from (``r3 t12``: random rollout 3, frame 12; ``e0 t40``: expert episode 0):

* **fired on random**: the first frame of each random rollout on which the checker fired. A
  checker that fires on frames where nothing was done shows itself here.
* **missed on expert**: per expert episode, the first frame the labels say is done but the
  checker did not fire on (environments with labels), or else, for an episode in which the
  checker never fired, the episode's last frame (where every sub-task of a successful episode is
  done).

A row with nothing to show says ``none``. Frames are scaled to one thumbnail height by nearest
neighbour (pixels stay sharp, colours exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rl.rollouts import Trajectory
from synth.verify import CheckerRuns
from synth.vlm import encode_png

__all__ = ["contact_sheet", "draw_text", "write_contact_sheet"]

_BACKGROUND = (32, 32, 32)
_TEXT = (235, 235, 235)
_DIM = (150, 150, 150)
_GAP = 6
_SCALE = 2  # font pixels per glyph pixel

# 5 x 7 glyphs, one string per row ("#" set); lower case is drawn as upper case.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....",) * 7,
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    ":": (".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    ">": (".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
}
_MASKS = {
    c: np.array([[ch == "#" for ch in row] for row in rows], bool) for c, rows in _GLYPHS.items()
}
_CHAR_W = (5 + 1) * _SCALE
_LINE_H = (7 + 3) * _SCALE


def _text_width(text: str) -> int:
    return len(text) * _CHAR_W


def draw_text(
    canvas: np.ndarray, text: str, y: int, x: int, colour: tuple[int, int, int] = _TEXT
) -> None:
    """Draw ``text`` onto ``canvas`` (H x W x 3 uint8) with its top-left corner at ``(y, x)``.

    Characters without a glyph are drawn as ``?``; what falls outside the canvas is cut off.

    Example:
        >>> canvas = np.zeros((20, 40, 3), np.uint8)
        >>> draw_text(canvas, "ok", 2, 2)
        >>> bool(canvas.any())
        True
    """
    h, w = canvas.shape[:2]
    for i, ch in enumerate(text.upper()):
        mask = np.kron(_MASKS.get(ch, _MASKS["?"]), np.ones((_SCALE, _SCALE), bool))
        top, left = y, x + i * _CHAR_W
        if left >= w or top >= h:
            break
        part = mask[: max(0, h - top), : max(0, w - left)]
        region = canvas[top : top + part.shape[0], left : left + part.shape[1]]
        region[part] = colour


def _fit(frame: np.ndarray, height: int) -> np.ndarray:
    """Scale ``frame`` to ``height`` pixels high by nearest neighbour (aspect kept)."""
    h, w = frame.shape[:2]
    width = max(1, round(w * height / h))
    rows = np.minimum((np.arange(height) * h) // height, h - 1)
    cols = np.minimum((np.arange(width) * w) // width, w - 1)
    return np.asarray(frame[rows][:, cols])


Pick = tuple[np.ndarray, str]


def _fired_on_random(
    k: int, runs: CheckerRuns, random: Sequence[Trajectory], limit: int
) -> list[Pick]:
    picks: list[Pick] = []
    for r, (t, (res, ok, _)) in enumerate(zip(random, runs.random, strict=True)):
        row = res[k] & ok[k]
        if row.any():
            i = int(np.argmax(row))
            picks.append((t.frames[i], f"r{r} t{i}"))
        if len(picks) >= limit:
            break
    return picks


def _missed_on_expert(
    k: int, name: str, runs: CheckerRuns, expert: Sequence[Trajectory], limit: int
) -> list[Pick]:
    picks: list[Pick] = []
    for e, (t, (res, ok, _)) in enumerate(zip(expert, runs.expert, strict=True)):
        row = res[k] & ok[k]
        if name in t.label_names:
            missed = t.label(name) & ~row
            if missed.any():
                i = int(np.argmax(missed))
                picks.append((t.frames[i], f"e{e} t{i}"))
        elif not row.any():
            picks.append((t.frames[-1], f"e{e} t{len(t) - 1}"))
        if len(picks) >= limit:
            break
    return picks


def contact_sheet(
    runs: CheckerRuns,
    expert: Sequence[Trajectory],
    random: Sequence[Trajectory],
    *,
    title: str = "",
    per_row: int = 6,
    thumb_height: int = 96,
) -> np.ndarray:
    """The contact sheet of a verification (see the module docstring).

    Args:
        runs: the checkers' results (:func:`synth.verify.run_checkers`).
        expert: the expert trajectories they ran on.
        random: the random rollouts they ran on.
        title: the first line of the sheet.
        per_row: thumbnails per row, at most.
        thumb_height: thumbnail height in pixels.

    Returns:
        An H x W x 3 uint8 picture.
    """
    if per_row < 1 or thumb_height < 8:
        raise ValueError(f"per_row={per_row}, thumb_height={thumb_height}: too small")
    rows: list[tuple[str, list[Pick]]] = []
    for k, name in enumerate(runs.names):
        rows.append((f"{name}: fired on random", _fired_on_random(k, runs, random, per_row)))
        rows.append(
            (f"{name}: missed on expert", _missed_on_expert(k, name, runs, expert, per_row))
        )
    sample = next((p[0] for _, picks in rows for p in picks), None)
    aspect = sample.shape[1] / sample.shape[0] if sample is not None else 1.0
    thumb_w = max(1, round(thumb_height * aspect))
    cell_w = max(thumb_w, _text_width("r00 t000"))
    cell_h = thumb_height + _LINE_H
    width = _GAP + per_row * (cell_w + _GAP)
    width = max(width, _GAP * 2 + max(_text_width(t) for t in [title, *(r[0] for r in rows)]))
    height = _GAP + (_LINE_H + _GAP if title else 0) + len(rows) * (_LINE_H + cell_h + _GAP)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = _BACKGROUND
    y = _GAP
    if title:
        draw_text(canvas, title, y, _GAP)
        y += _LINE_H + _GAP
    for label, picks in rows:
        draw_text(canvas, label, y, _GAP)
        y += _LINE_H
        if not picks:
            draw_text(canvas, "none", y + thumb_height // 2, _GAP, _DIM)
        for i, (frame, caption) in enumerate(picks):
            x = _GAP + i * (cell_w + _GAP)
            thumb = _fit(frame, thumb_height)[:, :cell_w]
            canvas[y : y + thumb_height, x : x + thumb.shape[1]] = thumb
            draw_text(canvas, caption, y + thumb_height + _SCALE, x, _DIM)
        y += cell_h + _GAP
    return canvas


def write_contact_sheet(
    path: str | Path,
    runs: CheckerRuns,
    expert: Sequence[Trajectory],
    random: Sequence[Trajectory],
    *,
    title: str = "",
) -> Path:
    """Write :func:`contact_sheet` as a PNG; return its path (parent directories are created)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(encode_png(contact_sheet(runs, expert, random, title=title)))
    return out
