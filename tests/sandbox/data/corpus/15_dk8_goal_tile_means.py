# corpus: style=gpt-4o; env=MiniGrid-DoorKey-8x8-v0; label=goal_reached; idioms=reshape-tiles,mean-axis-tuple,argmax,astype,float-cast
import numpy as np

GRID = 8
TILE = 8


def check(frame):
    # Average colour of every tile: shape (GRID, GRID, 3)
    tiles = frame.astype(np.float32).reshape(GRID, TILE, GRID, TILE, 3).mean(axis=(1, 3))
    green = tiles[:, :, 1] - tiles[:, :, 0] - tiles[:, :, 2]
    # the goal is the tile with the strongest green
    idx = int(np.argmax(green))
    gy, gx = idx // GRID, idx % GRID
    goal = tiles[gy, gx]
    if goal[1] < 100:
        return False
    # when the red agent stands on the goal the tile's red average goes up
    return bool(goal[0] > 40.0)
