# ruff: noqa
# mypy: ignore-errors
"""next_to_box: hands free, the agent stands next to the box."""

import numpy as np

GRID_H = 6
GRID_W = 11


def tile(frame):
    # pixels per cell; 0 when the frame is no grid of GRID_H x GRID_W cells of 8 or more pixels
    t = frame.shape[0] // GRID_H
    if t < 8 or frame.shape[1] < t * GRID_W:
        return 0
    return t


# MiniGrid colours and a locked door's inner panel in each (0.45 x the colour)
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100))
LOCKED_PANEL = ((114, 0, 0), (0, 114, 0), (0, 0, 114), (50, 17, 87), (114, 114, 0), (45, 45, 45))


def panel_at(frame, y, x):
    for i in range(len(LOCKED_PANEL)):
        p = LOCKED_PANEL[i]
        if frame[y, x, 0] == p[0] and frame[y, x, 1] == p[1] and frame[y, x, 2] == p[2]:
            return i
    return -1


def locked_door_cell(frame):
    # (colour index, row, column) of the locked door, or (-1, -1, -1) when none is drawn
    t = tile(frame)
    if t == 0:
        return -1, -1, -1
    q = t // 4
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            i = panel_at(frame, cy * t + q, cx * t + q)
            if i >= 0 and panel_at(frame, cy * t + q, cx * t + t - 1 - q) == i:
                return i, cy, cx
    return -1, -1, -1


def red_pixels(frame, y0, x0, t):
    n = 0
    for y in range(y0, y0 + t):
        for x in range(x0, x0 + t):
            if frame[y, x, 0] == 255 and frame[y, x, 1] == 0 and frame[y, x, 2] == 0:
                n += 1
    return n


def agent_cell(frame):
    # the agent is the red triangle over its cell's centre; a red key or box can also show red
    # there, but with fewer pure red pixels than the triangle, so keep the reddest such cell
    t = tile(frame)
    if t == 0:
        return -1, -1
    m = t // 2
    best = 0
    ay = -1
    ax = -1
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            y = cy * t
            x = cx * t
            if (
                frame[y + m, x + m, 0] == 255
                and frame[y + m, x + m, 1] == 0
                and frame[y + m, x + m, 2] == 0
            ):
                n = red_pixels(frame, y, x, t)
                if n > best:
                    best = n
                    ay = cy
                    ax = cx
    return ay, ax


def cover(frame, y, x, colour, top):
    # how much of pixel (y, x) is `colour` over black (tiles are anti-aliased on black)
    r = float(frame[y, x, 0])
    g = float(frame[y, x, 1])
    b = float(frame[y, x, 2])
    s = max(r, g, b) / top
    if max(abs(r - s * colour[0]), abs(g - s * colour[1]), abs(b - s * colour[2])) > 2.5:
        return 0.0
    return min(s, 1.0)


def edge(k, t):
    if k == 0:
        return 1
    if k == 3:
        return (3 * t + 3) // 4
    return k * t // 4


def block(frame, y, x, t, i, j, colour, top):
    total = 0.0
    for py in range(y + edge(i, t), y + edge(i + 1, t)):
        for px in range(x + edge(j, t), x + edge(j + 1, t)):
            total += cover(frame, py, px, colour, top)
    return total / ((edge(i + 1, t) - edge(i, t)) * (edge(j + 1, t) - edge(j, t)))


def key_visible(frame, colour):
    # a key of `colour` lies on the floor: its cell's colour sits in the two middle columns of a
    # 4 x 4 split, heavier on the right (ring and shaft) than on the left (teeth)
    t = tile(frame)
    if t == 0:
        return False
    top = float(max(colour[0], colour[1], colour[2]))
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            y = cy * t
            x = cx * t
            r, g, b = region_mean(frame, y + 1, x + 1, y + t, x + t)
            s = max(r, g, b) / top
            if s < 0.02:
                continue
            if max(abs(r - s * colour[0]), abs(g - s * colour[1]), abs(b - s * colour[2])) > 2.5:
                continue
            side = 0.0
            left = 0.0
            right = 0.0
            for i in range(4):
                side += block(frame, y, x, t, i, 0, colour, top) + block(
                    frame, y, x, t, i, 3, colour, top
                )
                left += block(frame, y, x, t, i, 1, colour, top)
                right += block(frame, y, x, t, i, 2, colour, top)
            if side < 0.05 and left > 0.4 and right > left + 0.4:
                return True
    return False


ROOM = (6, 1, 9, 4)  # x0, y0, x1, y1 cells of the room the box is in


def box_cell(first, t):
    # the box's cell in the first frame: the brightest cell interior of ROOM
    best = -1.0
    by = ROOM[1]
    bx = ROOM[0]
    for cy in range(ROOM[1], ROOM[3] + 1):
        for cx in range(ROOM[0], ROOM[2] + 1):
            r, g, b = region_mean(first, cy * t + 1, cx * t + 1, (cy + 1) * t, (cx + 1) * t)
            if r + g + b > best:
                best = r + g + b
                by = cy
                bx = cx
    return by, bx


def check(frame, first):
    # hands free (the key lies on the floor, the door is open) and standing beside the box
    d, dy, dx = locked_door_cell(first)
    if d < 0:
        return False
    now, ny, nx = locked_door_cell(frame)
    if now >= 0:
        return False
    if not key_visible(frame, COLOURS[d]):
        return False
    t = tile(frame)
    if t == 0 or tile(first) != t:
        return False
    by, bx = box_cell(first, t)
    ay, ax = agent_cell(frame)
    if ay < 0:
        return False
    return abs(ay - by) + abs(ax - bx) == 1
