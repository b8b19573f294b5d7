import numpy as np

# Yellow key color in MiniGrid
YELLOW = np.array([255, 255, 0])


def check(frame, first):
    """
    Returns True if the agent has picked up the yellow key.
    When the key is picked up it disappears from the grid.
    """
    # Count yellow pixels in the first frame and in the current frame
    initial_yellow = np.sum(np.all(first == YELLOW, axis=-1))
    current_yellow = np.sum(np.all(frame == YELLOW, axis=-1))

    # If there was no key in the first frame, the task cannot be evaluated
    if initial_yellow == 0:
        return False

    # The key is picked up when most of the yellow pixels are gone
    return bool(current_yellow < 0.5 * initial_yellow)
