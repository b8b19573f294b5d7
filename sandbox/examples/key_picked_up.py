"""Example checker: the yellow key is no longer on the floor (MiniGrid DoorKey, highlight=False).

The key and the door are both yellow (255, 255, 0). Once the agent carries the key, fewer yellow
pixels remain than at the start of the episode.
"""

import numpy as np

YELLOW = (255, 255, 0)


def check(frame, first):
    now = count_color(frame, YELLOW, 10)
    start = count_color(first, YELLOW, 10)
    return bool(start > 0 and now < 0.8 * start and np.any(frame[..., 0] > 200))
