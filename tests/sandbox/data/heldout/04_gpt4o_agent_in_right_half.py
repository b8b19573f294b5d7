import numpy as np


def check(frame):
    """Return True if the agent is located in the right half of the grid."""
    # Find all red pixels (the agent)
    red_pixels = np.argwhere(
        (frame[:, :, 0] > 200) & (frame[:, :, 1] < 50) & (frame[:, :, 2] < 50)
    )

    if len(red_pixels) == 0:
        return False

    # Average column position of the agent
    mean_x = red_pixels[:, 1].mean()
    width = frame.shape[1]
    return mean_x > width / 2
