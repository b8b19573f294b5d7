import numpy as np

AGENT_COLOR = np.array([255, 0, 0])


def get_agent_position(img):
    """Return the (row, col) center of the red agent, or None if not found."""
    mask = np.all(img == AGENT_COLOR, axis=-1)
    coords = np.argwhere(mask)
    if len(coords) == 0:
        return None
    return coords.mean(axis=0)


def check(frame, first):
    """
    Returns True if the agent has moved away from its starting position.
    """
    start_pos = get_agent_position(first)
    current_pos = get_agent_position(frame)

    if start_pos is None or current_pos is None:
        return False

    tile_size = frame.shape[0] / 8

    # Agent moved if it shifted by at least half a tile in any direction
    displacement = np.abs(current_pos - start_pos)
    return bool(np.max(displacement) >= tile_size / 2)
