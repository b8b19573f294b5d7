# corpus: style=gpt-4o; env=MiniGrid-KeyCorridorS3R1-v0; label=key_picked; idioms=hard-coded-layout,count_nonzero,astype,slicing
import numpy as np

TILE = 8
# Layout from the image: [wall][key room][door][agent room][locked door][ball room][wall]
KEY_CELL = (1, 1)  # (row, col) of the small room holding the key


def check(frame):
    r, c = KEY_CELL
    cell = frame[r * TILE + 1 : (r + 1) * TILE, c * TILE + 1 : (c + 1) * TILE].astype(np.int32)
    # anything that is not floor: bright or coloured pixels
    occupied = cell.max(axis=2) > 60
    # key picked when its cell is empty again
    return bool(np.count_nonzero(occupied) < 4)
