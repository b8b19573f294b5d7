# corpus: style=claude; env=MiniGrid-DoorKey-5x5-v0; label=key_picked; idioms=grid-cell-loop,module-helper,docstring,early-return,frame-shape,tuple-constant
# ruff: noqa: F821
TILE = 8
YELLOW = (255, 255, 0)


def tile_yellow_fraction(frame, row, col):
    """Fraction of a tile's pixels that are close to the key's yellow."""
    y0, x0 = row * TILE, col * TILE
    tile = frame[y0 : y0 + TILE, x0 : x0 + TILE]
    return count_color(tile, YELLOW, 60) / float(TILE * TILE)


def check(frame):
    """Return True once the key is no longer lying on the floor.

    A key occupies only a small part of its tile (a thin shaft and a ring), while a
    door fills most of its tile, so a tile whose yellow coverage is small but non-zero
    is taken to be the key.
    """
    height, width = frame.shape[0], frame.shape[1]
    rows, cols = height // TILE, width // TILE
    for row in range(rows):
        for col in range(cols):
            frac = tile_yellow_fraction(frame, row, col)
            if 0.03 < frac < 0.4:
                # Found a key-like tile: the key is still on the floor.
                return False
    return True
