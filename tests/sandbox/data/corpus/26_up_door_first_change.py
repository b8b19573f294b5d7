# corpus: style=claude; env=MiniGrid-UnlockPickup-v0; label=door_open; idioms=vision-helpers,region_mean,region_change,first-frame,module-helper,early-return,docstring,tuple-return
# ruff: noqa: F821
TILE = 8
WALL = 100.0


def door_cell(first):
    """Row of the door in the dividing wall (the middle column of tiles), or -1."""
    col = (first.shape[1] // 2) // TILE
    x0 = col * TILE
    for row in range(1, first.shape[0] // TILE - 1):
        r, g, b = region_mean(first, row * TILE, x0, (row + 1) * TILE, x0 + TILE)
        if abs(r - WALL) + abs(g - WALL) + abs(b - WALL) > 30:
            return row, col
    return -1, col


def check(frame, first):
    """The door is open once its tile looks very different from the first frame.

    A locked door is a filled square; an open one is drawn as a thin outline, so most
    pixels of the tile change when it opens.
    """
    row, col = door_cell(first)
    if row < 0:
        return False
    y0, x0 = row * TILE + 1, col * TILE + 1
    return region_change(frame, first, y0, x0, y0 + TILE - 2, x0 + TILE - 2, 20) > 0.4
