import numpy as np


def check(frame):
    """
    Returns True if the agent is standing directly next to the yellow key
    (one grid cell away, not diagonal).
    """
    # Masks for the agent (red) and the key (yellow)
    agent_mask = color_mask(frame, (255, 0, 0), tol=10)
    key_mask = color_mask(frame, (255, 255, 0), tol=10)

    if agent_mask.sum() == 0 or key_mask.sum() == 0:
        return False

    # Centers of the agent and the key
    ay, ax = centroid(agent_mask)
    ky, kx = centroid(key_mask)

    tile = frame.shape[0] / 8.0

    # Convert pixel positions to grid coordinates
    agent_cell = (int(ay // tile), int(ax // tile))
    key_cell = (int(ky // tile), int(kx // tile))

    # Adjacent means a Manhattan distance of exactly 1 in grid cells
    dist = abs(agent_cell[0] - key_cell[0]) + abs(agent_cell[1] - key_cell[1])
    return dist == 1
