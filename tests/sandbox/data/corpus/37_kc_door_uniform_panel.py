# corpus: style=claude; env=MiniGrid-KeyCorridorS3R1-v0; label=door_open; idioms=vision-helpers,region_change,np-std,chained-comparison,first-frame,grid-cell-loop,module-helper,docstring,astype
# ruff: noqa: F821
import numpy as np

TILE = 8


def centre(img, row, col):
    """The 4x4 block at the centre of a tile, as int32."""
    y0, x0 = row * TILE + 2, col * TILE + 2
    return img[y0 : y0 + 4, x0 : x0 + 4].astype(np.int32)


def locked_door_col(first):
    """Column of the locked door: the tile whose centre is a uniform, dim colour."""
    for col in range(1, first.shape[1] // TILE - 1):
        block = centre(first, 1, col)
        level = block.max(axis=2).mean()
        if 40 <= level <= 170 and block.std() < 25 and block[:, :, :].max() < 200:
            return col
    return -1


def check(frame, first):
    """The locked door is open once the panel filling its tile has gone."""
    col = locked_door_col(first)
    if col < 0:
        return False
    y0, x0 = TILE + 1, col * TILE + 1
    return region_change(frame, first, y0, x0, y0 + TILE - 2, x0 + TILE - 2, 25) > 0.5
