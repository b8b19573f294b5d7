# corpus: style=gpt-4o; env=MiniGrid-KeyCorridorS3R1-v0; label=ball_picked; idioms=vision-helpers,count_color,argmax,reshape,first-frame,tuple-cast
# ruff: noqa: F821
import numpy as np

TILE = 8


def check(frame, first):
    # The ball is in the last room on the right (second to last column of tiles).
    col = first.shape[1] // TILE - 2
    cell = first[TILE : 2 * TILE, col * TILE : (col + 1) * TILE].reshape(-1, 3).astype(np.int32)
    # Its true colour is the brightest pixel of that tile.
    brightest = cell[np.argmax(cell.sum(axis=1))]
    if brightest.sum() < 100:
        return False
    colour = (int(brightest[0]), int(brightest[1]), int(brightest[2]))
    # Picked up once no pixel of that colour remains anywhere in the frame.
    return count_color(frame, colour, 10) == 0
