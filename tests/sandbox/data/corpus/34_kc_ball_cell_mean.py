# corpus: style=claude; env=MiniGrid-KeyCorridorS3R1-v0; label=ball_picked; idioms=vision-helpers,region_mean,first-frame,reversed-loop,module-helper,early-return,docstring
# ruff: noqa: F821
TILE = 8


def is_empty(frame, row, col):
    """A floor tile: the interior (inside the grid lines) is black."""
    y0, x0 = row * TILE + 2, col * TILE + 2
    r, g, b = region_mean(frame, y0, x0, y0 + TILE - 3, x0 + TILE - 3)
    return max(r, g, b) < 15


def ball_cell(first):
    """The ball sits in the rightmost room: the last occupied tile of the corridor row."""
    cols = first.shape[1] // TILE
    for col in reversed(range(1, cols - 1)):
        if not is_empty(first, 1, col):
            return col
    return -1


def check(frame, first):
    """The ball has been picked up when its tile from the first frame is empty now."""
    col = ball_cell(first)
    if col < 0:
        return False
    return is_empty(frame, 1, col)
