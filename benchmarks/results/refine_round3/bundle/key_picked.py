# ruff: noqa
# mypy: ignore-errors
"""key_picked: The agent carries the key or the door is already unlocked: no key-shaped object of
the locked door's colour is drawn, or no locked door is drawn.

Hand-written reference checker for MiniGrid-UnlockPickup-v0, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = 6
GRID_W = 11


def tile(frame):
    # pixels per cell; 0 when the frame is no grid of GRID_H x GRID_W cells of 8 or more pixels
    t = frame.shape[0] // GRID_H
    if t < 8 or frame.shape[1] < t * GRID_W:
        return 0
    return t

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
