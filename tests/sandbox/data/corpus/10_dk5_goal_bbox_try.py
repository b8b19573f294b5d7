# corpus: style=claude; env=MiniGrid-DoorKey-5x5-v0; label=goal_reached; idioms=try-except,np-where,np-any,slicing,docstring
import numpy as np


def check(frame):
    """Is the agent inside the goal square?

    The goal square is found from its green pixels; the agent is the only red object.
    """
    try:
        green = (frame[..., 1] > 200) & (frame[..., 0] < 60) & (frame[..., 2] < 60)
        ys, xs = np.where(green)
        if ys.size == 0:
            return False
        region = frame[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        red = (region[..., 0] > 200) & (region[..., 1] < 60) & (region[..., 2] < 60)
        return bool(np.any(red))
    except (ValueError, IndexError):
        return False
