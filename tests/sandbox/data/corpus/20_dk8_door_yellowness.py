# corpus: style=claude; env=MiniGrid-DoorKey-8x8-v0; label=door_open; idioms=nested-helper,np-minimum,astype,grid-cell-loop,early-return,docstring
import numpy as np

TILE = 8


def check(frame):
    """True once no tile is mostly covered by the door's yellow.

    "Yellowness" is min(R, G) - B: high for every shade of yellow, near zero for grey
    walls, black floor, the red agent and the green goal.
    """
    img = frame.astype(np.int32)
    yellowness = np.minimum(img[:, :, 0], img[:, :, 1]) - img[:, :, 2]

    def tile_fraction(row, col):
        block = yellowness[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE]
        return float((block > 60).mean())

    rows, cols = frame.shape[0] // TILE, frame.shape[1] // TILE
    for row in range(rows):
        for col in range(cols):
            if tile_fraction(row, col) > 0.6:
                return False  # a closed door still fills this tile
    return True
