# corpus: style=claude; env=MiniGrid-DoorKey-8x8-v0; label=door_open; idioms=vision-helpers,region_mean,grid-cell-loop,module-helper,early-return,docstring
# ruff: noqa: F821
TILE = 8


def is_locked_door(frame, row, col):
    """A locked door fills its tile with a dim, uniform yellow panel."""
    y0, x0 = row * TILE + 2, col * TILE + 2
    r, g, b = region_mean(frame, y0, x0, y0 + TILE - 4, x0 + TILE - 4)
    return r > 80 and g > 80 and b < 20 and abs(r - g) < 10


def check(frame):
    """The door counts as open when no tile shows a locked door's filled panel."""
    rows = frame.shape[0] // TILE
    cols = frame.shape[1] // TILE
    for row in range(rows):
        for col in range(cols):
            if is_locked_door(frame, row, col):
                return False
    return True
