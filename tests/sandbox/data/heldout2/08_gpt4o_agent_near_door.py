import numpy as np

# Possible door colors in MiniGrid
DOOR_COLORS = [
    np.array([255, 255, 0]),   # yellow
    np.array([0, 0, 255]),     # blue
    np.array([112, 39, 195]),  # purple
]


def check(frame):
    """
    Returns True if the agent is directly next to a closed door,
    i.e. in a position where it could toggle the door.
    """
    h, w, _ = frame.shape
    tile = h // 8

    # Locate the agent
    agent = np.all(frame == np.array([255, 0, 0]), axis=-1)
    if not agent.any():
        return False
    agent_pos = np.argwhere(agent).mean(axis=0)
    agent_cell = (int(agent_pos[0] // tile), int(agent_pos[1] // tile))

    # Find door tiles: tiles that are mostly filled with a door color
    door_cells = []
    for color in DOOR_COLORS:
        mask = np.all(frame == color, axis=-1)
        for i in range(8):
            for j in range(8):
                patch = mask[i * tile:(i + 1) * tile, j * tile:(j + 1) * tile]
                if patch.sum() > 0.5 * tile * tile:
                    door_cells.append((i, j))

    if len(door_cells) == 0:
        return False

    # Closest door in grid (Manhattan) distance
    best = min(abs(i - agent_cell[0]) + abs(j - agent_cell[1]) for (i, j) in door_cells)
    return best == 1
