# corpus: style=gpt-4o; env=MiniGrid-DoorKey-5x5-v0; label=goal_reached; idioms=np-all-axis,np-sum,first-frame,tuple-constant
import numpy as np

GOAL_GREEN = (0, 255, 0)


def check(frame, first):
    # The goal is a solid green square. When the agent (red triangle) stands on it,
    # part of the square is covered, so fewer green pixels are visible.
    green_now = np.sum(np.all(frame == GOAL_GREEN, axis=-1))
    green_start = np.sum(np.all(first == GOAL_GREEN, axis=-1))
    if green_start == 0:
        return False
    return bool(green_now < 0.85 * green_start)
