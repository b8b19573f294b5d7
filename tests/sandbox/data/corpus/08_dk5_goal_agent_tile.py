# corpus: style=claude; env=MiniGrid-DoorKey-5x5-v0; label=goal_reached; idioms=type-hints,vision-helpers,centroid,color_mask,module-helper,early-return,int-cast,docstring
# ruff: noqa: F821
import numpy as np

TILE = 8
AGENT = (255, 0, 0)
GOAL = (0, 255, 0)


def agent_tile(frame: np.ndarray) -> tuple[int, int]:
    """Row and column of the tile holding the agent, or (-1, -1) if it is not visible."""
    mask = color_mask(frame, AGENT, 20)
    cy, cx = centroid(mask)
    if cy < 0:
        return -1, -1
    return int(cy) // TILE, int(cx) // TILE


def check(frame: np.ndarray) -> bool:
    """True when the agent stands on the green goal tile.

    The agent's triangle leaves the corners of its tile uncovered, so when it stands on
    the goal those corners show the goal's pure green.
    """
    row, col = agent_tile(frame)
    if row < 0:
        return False
    tile = frame[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE]
    green = pixel_count(color_mask(tile, GOAL, 10))
    return bool(green >= 8)
