# corpus: style=gpt-4o; env=MiniGrid-UnlockPickup-v0; label=door_open; idioms=hard-coded-layout,grid-cell-loop,mean-axis-tuple,np-std,astype,early-return
import numpy as np

TILE = 8
DOOR_COL = 5  # the door sits in the wall between the two rooms


def check(frame):
    rows = frame.shape[0] // TILE
    x0 = DOOR_COL * TILE
    for r in range(1, rows - 1):
        # interior of the tile (skip the outline)
        cell = frame[r * TILE + 2 : r * TILE + 6, x0 + 2 : x0 + 6].astype(np.float64)
        mean = cell.mean(axis=(0, 1))
        coloured = mean.max() > 40 and np.std(mean) > 15
        if coloured:
            # a filled, coloured door panel: the door is still locked
            return False
    return True
