"""The hand-written reference checkers: one parameterised source per checker family.

Provides:
    minigrid_program: the MiniGrid family's program for one environment (grid size, sub-tasks,
        the task object's room are parameters).
    panda_program: PandaPush's program.
    reference_programs: env id -> program, for every built-in entry that declares one.
    TABLE_FROM_IMAGE: the PandaPush camera's table-plane homography.

Programs are built in memory from these sources when asked for
(:func:`rl.programs.reference_program`); no per-environment copies are kept on disk. Each
environment's registry entry (:data:`rl.envs.BUILTIN_SPECS`) says which family and parameters it
uses. ``vlmcar train --reward reference`` and ``python -m rl.programs ENV_ID DIR`` (which writes
one program directory) use the same builder.

What the checkers rely on (see :mod:`rl.labels` for the label definitions they implement):

MiniGrid frames (highlight off, any tile size of at least 8 pixels; a cell is
``frame height / grid height`` pixels)
    * ``door_open``: a locked door's inner panel is drawn in exactly 0.45 x its colour
      (yellow -> (114, 114, 0), purple -> (50, 17, 87) ...); no anti-aliased edge produces these
      values, and the panel never comes back once the door is unlocked. Two pixels of every cell
      are read (x about 0.25 and 0.7 of the cell, y about 0.25: inside the panel, away from the
      key hole); the door is unlocked when no cell shows the same panel colour at both.
    * ``key_picked``: true once the door is unlocked; before that, the key has the locked door's
      colour, and is looked for in the cells whose interior is, on average, that colour over black
      (a cheap region mean first; floor, walls and other objects drop out): each such cell is
      split into 4 x 4 blocks and the blocks' mean *coverage* of that colour is measured (a pixel
      drawn as ``k/9`` of the colour over black counts ``k/9``, so anti-aliased edges count by
      area and the numbers barely move with the tile size). Only a key is drawn entirely in the
      middle two block columns, heavier on the right (ring and shaft) than on the left (teeth);
      doors, boxes, balls, walls and the agent's triangle always reach the outer columns.
    * ``goal_reached``: the agent's pure red triangle covers the centre pixel of its cell (the
      only pure red cell centre in DoorKey), and when the agent stands on the goal the cell's
      inner corner pixels that the triangle leaves free are the goal's pure green.
    * ``box_picked`` / ``ball_picked``: the object never moves until it is picked up (which ends
      the episode), so the checker finds its cell in the episode's first frame (the only
      non-empty cell of the room it is placed in) and fires once that cell has changed.

PandaPush frames (the fixed oblique view of :data:`rl.envs.PANDA_CAMERA`): the cube is the only
green thing, the target (recoloured) the only red thing. Pixel centroids are mapped to metres on
the table plane with the camera's homography (:data:`TABLE_FROM_IMAGE`), so the thresholds are
the labels' own: ``cube_moved`` when the cube's centroid is more than 2 cm from the first frame's
(and says no while the arm hides most of the cube), ``cube_at_target`` when it is within 5 cm of
the target's centroid in the first frame (the target never moves; later the cube covers it).
"""

from __future__ import annotations

import textwrap

from rl.program import RewardProgram, SubTask

__all__ = ["TABLE_FROM_IMAGE", "minigrid_program", "panda_program", "reference_programs"]

ORIGIN = "hand-written reference"

# ------------------------------------------------------------------------------------------
# MiniGrid snippets
# ------------------------------------------------------------------------------------------

# Checker files live inside the ``rl`` package: keep the project's linters off them (the audit is
# their linter; the vision helpers they call are names the sandbox provides).
_LINT_OFF = "# ruff: noqa\n# mypy: ignore-errors\n"

_HEADER = (
    _LINT_OFF
    + '''"""{title}

{origin} checker for {env_id}, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = {gh}
GRID_W = {gw}


def tile(frame):
    # pixels per cell; 0 when the frame is no grid of GRID_H x GRID_W cells of 8 or more pixels
    t = frame.shape[0] // GRID_H
    if t < 8 or frame.shape[1] < t * GRID_W:
        return 0
    return t
'''
)

_LOCK = """
# MiniGrid's colours, and a locked door's inner panel in each colour (0.45 x the colour): no
# anti-aliased edge has these exact values, and the panel is gone for good once unlocked.
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100))
LOCKED_PANEL = ((114, 0, 0), (0, 114, 0), (0, 0, 114), (50, 17, 87), (114, 114, 0), (45, 45, 45))


def panel_at(frame, y, x):
    # index in LOCKED_PANEL of the colour of pixel (y, x), -1 when it is no panel colour
    r = frame[y, x, 0]
    g = frame[y, x, 1]
    b = frame[y, x, 2]
    for i in range(len(LOCKED_PANEL)):
        p = LOCKED_PANEL[i]
        if r == p[0] and g == p[1] and b == p[2]:
            return i
    return -1


def locked_door(frame):
    # index in COLOURS of the locked door's colour, -1 when no locked door is drawn. The panel
    # covers x and y 0.06-0.94 of the door's cell except the key hole (x 0.52-0.75, y 0.50-0.56):
    # two pixels in the cell's upper half (x about 0.25 and 0.7, y about 0.25) both show it
    t = tile(frame)
    if t == 0:
        return -1
    y = t // 4
    x0 = t // 4
    x1 = t - 1 - t // 4
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            i = panel_at(frame, cy * t + y, cx * t + x0)
            if i >= 0 and panel_at(frame, cy * t + y, cx * t + x1) == i:
                return i
    return -1
"""

_KEY = """

def cover(frame, y, x, colour, top):
    # how much of pixel (y, x) is `colour` drawn over black (tiles are anti-aliased on black, so a
    # pixel k/9 covered is k/9 x the colour); 0 for a pixel of any other colour
    r = float(frame[y, x, 0])
    g = float(frame[y, x, 1])
    b = float(frame[y, x, 2])
    s = max(r, g, b) / top
    err = max(abs(r - s * colour[0]), abs(g - s * colour[1]), abs(b - s * colour[2]))
    if err > 2.5:
        return 0.0
    return min(s, 1.0)


def cut(k, t):
    # the k-th of the 5 edges of a 4 x 4 split of a cell of t pixels; edge 0 leaves out the grid
    # line MiniGrid draws on each cell's first row and column, and the outer block columns never
    # reach into x 0.25-0.75 of the cell, whatever the tile size
    if k == 0:
        return 1
    if k == 3:
        return (3 * t + 3) // 4
    return k * t // 4


def block(frame, y, x, t, i, j, colour, top):
    # mean coverage of block (row i, column j) of the cell whose top-left pixel is (y, x)
    y0 = y + cut(i, t)
    y1 = y + cut(i + 1, t)
    x0 = x + cut(j, t)
    x1 = x + cut(j + 1, t)
    total = 0.0
    for py in range(y0, y1):
        for px in range(x0, x1):
            total += cover(frame, py, px, colour, top)
    return total / ((y1 - y0) * (x1 - x0))


def key_in_cell(frame, y, x, t, colour, top):
    # a key is the only object drawn entirely within the two middle block columns of its cell,
    # heavier on the right (ring and shaft) than on the left (teeth)
    side = 0.0
    left = 0.0
    right = 0.0
    for i in range(4):
        side += block(frame, y, x, t, i, 0, colour, top) + block(frame, y, x, t, i, 3, colour, top)
        left += block(frame, y, x, t, i, 1, colour, top)
        right += block(frame, y, x, t, i, 2, colour, top)
    return side < 0.05 and left > 0.4 and right > left + 0.4


def all_colour(frame, y, x, t, colour, top):
    # whether the cell's interior is `colour` over black on average: true for a key (and a door)
    # of that colour, false for floor, walls and objects of other colours; cheap, so the
    # pixel-level test runs on a few cells only
    r, g, b = region_mean(frame, y + 1, x + 1, y + t, x + t)
    s = max(r, g, b) / top
    if s < 0.02:
        return False
    return max(abs(r - s * colour[0]), abs(g - s * colour[1]), abs(b - s * colour[2])) <= 2.5


def key_visible(frame, colour):
    t = tile(frame)
    if t == 0:
        return False
    top = float(max(colour[0], colour[1], colour[2]))
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            if all_colour(frame, cy * t, cx * t, t, colour, top):
                if key_in_cell(frame, cy * t, cx * t, t, colour, top):
                    return True
    return False


def check(frame):
    if tile(frame) == 0:
        return False  # not a frame of this grid
    door = locked_door(frame)
    if door < 0:
        return True  # the door is unlocked: the key has been used
    return not key_visible(frame, COLOURS[door])
"""

_DOOR = """

def check(frame):
    return tile(frame) > 0 and locked_door(frame) < 0
"""

_GOAL = """
GOAL = (0, 255, 0)
AGENT = (255, 0, 0)


def is_colour(frame, y, x, colour):
    return (
        frame[y, x, 0] == colour[0] and frame[y, x, 1] == colour[1] and frame[y, x, 2] == colour[2]
    )


def check(frame):
    # the agent's pure red triangle covers the centre of its cell, whichever way it points; on
    # the goal, the goal's green shows in the corners the triangle leaves free (at least two)
    t = tile(frame)
    if t == 0:
        return False
    m = t // 2
    e = t - 2
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            y = cy * t
            x = cx * t
            if is_colour(frame, y + m, x + m, AGENT):
                return (
                    is_colour(frame, y + 1, x + 1, GOAL)
                    or is_colour(frame, y + 1, x + e, GOAL)
                    or is_colour(frame, y + e, x + 1, GOAL)
                    or is_colour(frame, y + e, x + e, GOAL)
                )
    return False
"""

_PICKED = """
ROOM = {room}  # x0, y0, x1, y1 (cells, inclusive): the room the {obj} is placed in


def object_cell(first, t):
    # the {obj}'s cell in the episode's first frame: the brightest cell interior of ROOM (the
    # rest of that room is empty floor when the episode starts)
    best = -1.0
    where = (ROOM[1], ROOM[0])
    for cy in range(ROOM[1], ROOM[3] + 1):
        for cx in range(ROOM[0], ROOM[2] + 1):
            r, g, b = region_mean(first, cy * t + 1, cx * t + 1, (cy + 1) * t, (cx + 1) * t)
            if r + g + b > best:
                best = r + g + b
                where = (cy, cx)
    return where


def check(frame, first):
    # the {obj} never moves until it is picked up (which ends the episode): has its cell changed?
    t = tile(frame)
    if t == 0 or tile(first) != t:
        return False
    cy, cx = object_cell(first, t)
    changed = region_change(frame, first, cy * t + 1, cx * t + 1, (cy + 1) * t, (cx + 1) * t, 30)
    return changed > 0.05
"""

_DESCRIPTIONS = {
    "key_picked": (
        "The agent carries the key or the door is already unlocked: no key-shaped object of the "
        "locked door's colour is drawn, or no locked door is drawn."
    ),
    "door_open": "The locked door has been unlocked: no locked door's inner panel is drawn.",
    "goal_reached": "The agent stands on the green goal square.",
    "box_picked": "The agent picked up the box: the box's starting cell has changed.",
    "ball_picked": "The agent picked up the ball: the ball's starting cell has changed.",
    "cube_moved": "The green cube has moved more than 2 cm from where it started.",
    "cube_at_target": "The green cube sits on the red target (centres within 5 cm).",
}


def minigrid_program(
    env_id: str,
    *,
    names: tuple[str, ...],
    grid: tuple[int, int],
    task: str,
    room: tuple[int, int, int, int] | None = None,
) -> RewardProgram:
    """The MiniGrid family's reference program for one environment.

    Args:
        env_id: the environment (named in each checker's docstring).
        names: the sub-tasks, in order (``key_picked``, ``door_open``, ``goal_reached``,
            ``box_picked``, ``ball_picked``).
        grid: ``(height, width)`` in cells (the checkers' ``GRID_H``/``GRID_W``).
        task: the program's task text.
        room: ``(x0, y0, x1, y1)`` cells of the room the box/ball is placed in.

    Raises:
        ValueError: a sub-task this family has no checker for, or a missing ``room``.
    """
    gh, gw = grid
    subtasks = []
    for name in names:
        title = textwrap.fill(f"{name}: {_DESCRIPTIONS[name]}", 96)
        head = _HEADER.format(title=title, origin=ORIGIN.capitalize(), env_id=env_id, gh=gh, gw=gw)
        if name == "key_picked":
            body = _LOCK + _KEY
        elif name == "door_open":
            body = _LOCK + _DOOR
        elif name == "goal_reached":
            body = _GOAL
        elif name in ("box_picked", "ball_picked"):
            if room is None:
                raise ValueError(f"{env_id}: {name} needs the object's room")
            body = _PICKED.format(room=repr(tuple(room)), obj=name.split("_")[0])
        else:
            raise ValueError(f"{env_id}: no MiniGrid reference checker for {name!r}")
        subtasks.append(SubTask(name, f"{ORIGIN}: {_DESCRIPTIONS[name]}", head + body))
    return RewardProgram(
        env_id=env_id,
        task=task,
        subtasks=tuple(subtasks),
        extra={"origin": ORIGIN, "generator": "rl/programs/reference.py"},
    )


# ------------------------------------------------------------------------------------------
# PandaPush
# ------------------------------------------------------------------------------------------

_PANDA_HEADER = (
    _LINT_OFF
    + '''"""{title}

{origin} checker for PandaPush-v3, written by rl/programs/reference.py.
Frames: the fixed oblique Tiny-renderer view of rl.envs.PANDA_CAMERA, any size; the cube is the
only green object and the (recoloured) target the only red one.
"""

import math

import numpy as np

# The camera is fixed: this homography maps a pixel (x / width, y / height, 1) to the table plane
# 3 cm above the table top (x, y, w), in metres, so distances can be measured in metres.
TABLE_FROM_IMAGE = {homography}


def green(frame):
    f = frame.astype(np.int32)
    return (f[:, :, 1] > 60) & (f[:, :, 1] > 2 * f[:, :, 0]) & (f[:, :, 1] > 2 * f[:, :, 2])


def red(frame):
    f = frame.astype(np.int32)
    return (f[:, :, 0] > 60) & (f[:, :, 0] > 2 * f[:, :, 1]) & (f[:, :, 0] > 2 * f[:, :, 2])


def on_table(mask):
    # table-plane position (metres) of the centroid of a mask
    cy, cx = centroid(mask)
    u = (cx + 0.5) / mask.shape[1]
    v = (cy + 0.5) / mask.shape[0]
    h = TABLE_FROM_IMAGE
    w = h[2][0] * u + h[2][1] * v + h[2][2]
    return (h[0][0] * u + h[0][1] * v + h[0][2]) / w, (h[1][0] * u + h[1][1] * v + h[1][2]) / w
'''
)

_CUBE_MOVED = """

def check(frame, first):
    now = green(frame)
    start = green(first)
    seen = pixel_count(start)
    if seen < 2 or pixel_count(now) < 0.3 * seen:
        return False  # the arm hides most of the cube: no reliable position, say no
    x0, y0 = on_table(start)
    x1, y1 = on_table(now)
    return math.hypot(x1 - x0, y1 - y0) > 0.02
"""

_CUBE_AT_TARGET = """

def check(frame, first):
    cube = green(frame)
    if pixel_count(cube) < 2:
        return False
    target = red(first)  # the target never moves; later the cube or the arm may cover it
    if pixel_count(target) < 2:
        target = red(frame)
    if pixel_count(target) < 2:
        return False
    cx, cy = on_table(cube)
    tx, ty = on_table(target)
    return math.hypot(cx - tx, cy - ty) < 0.05
"""

#: Table plane (z = 3 cm) from normalised image coordinates for :data:`rl.envs.PANDA_CAMERA`
#: (tests recompute it from pybullet's view and projection matrices).
TABLE_FROM_IMAGE = (
    (-1.077149, 1.581274, -0.201872),
    (1.077149, 1.581274, -1.279021),
    (0.0, 2.732049, 1.0),
)


def _tuple_source(rows: tuple[tuple[float, ...], ...]) -> str:
    inner = "".join(f"    {row!r},\n" for row in rows)
    return f"(\n{inner})"


def panda_program() -> RewardProgram:
    """PandaPush's reference program (``cube_moved``, ``cube_at_target``)."""
    subtasks = []
    for name, body in (("cube_moved", _CUBE_MOVED), ("cube_at_target", _CUBE_AT_TARGET)):
        title = textwrap.fill(f"{name}: {_DESCRIPTIONS[name]}", 96)
        head = _PANDA_HEADER.format(
            title=title, origin=ORIGIN.capitalize(), homography=_tuple_source(TABLE_FROM_IMAGE)
        )
        subtasks.append(SubTask(name, f"{ORIGIN}: {_DESCRIPTIONS[name]}", head + body))
    return RewardProgram(
        env_id="PandaPush-v3",
        task="push the green cube onto the red target",
        subtasks=tuple(subtasks),
        extra={"origin": ORIGIN, "generator": "rl/programs/reference.py"},
    )


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------


def reference_programs() -> dict[str, RewardProgram]:
    """Return env id -> reference program, for every built-in entry that declares one."""
    from rl.envs import BUILTIN_SPECS

    return {s.id: s.reference() for s in BUILTIN_SPECS if s.reference is not None}
