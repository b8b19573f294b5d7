import numpy as np


def check(frame):
    """
    Returns True if the agent has moved into the room on the right side
    of the dividing wall (DoorKey layout).
    """
    # Red agent pixels
    red = (frame[:, :, 0] == 255) & (frame[:, :, 1] == 0) & (frame[:, :, 2] == 0)
    if np.count_nonzero(red) == 0:
        return False

    ys, xs = np.nonzero(red)
    agent_x = xs.mean()

    # Find the vertical wall that separates the two rooms:
    # the column with the most grey pixels, ignoring the outer border
    grey = np.all(frame == np.array([100, 100, 100]), axis=-1)
    col_counts = grey.sum(axis=0)
    tile = frame.shape[1] // 8
    inner = col_counts[tile:-tile]

    if inner.max() < frame.shape[0] * 0.5:
        # No separating wall found, fall back to the middle of the image
        wall_x = frame.shape[1] / 2
    else:
        wall_x = np.argmax(inner) + tile

    # The agent is in the right room if it is to the right of the wall
    return bool(agent_x > wall_x)
