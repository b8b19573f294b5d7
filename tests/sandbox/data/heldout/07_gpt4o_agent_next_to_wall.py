import numpy as np

TILE = 32
WALL = (100, 100, 100)
AGENT = (255, 0, 0)


def check(frame):
    """Return True if the agent is standing directly next to a wall tile."""
    h, w = frame.shape[:2]
    tile = TILE if h >= 4 * TILE else 8
    rows, cols = h // tile, w // tile

    # Locate the tile that contains the agent
    agent_tile = None
    for r in range(rows):
        for c in range(cols):
            patch = frame[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
            if np.any(np.all(patch == AGENT, axis=-1)):
                agent_tile = (r, c)
                break
        if agent_tile is not None:
            break

    if agent_tile is None:
        return False

    # Check the four neighbouring tiles for walls
    r, c = agent_tile
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = r + dy, c + dx
        if 0 <= nr < rows and 0 <= nc < cols:
            patch = frame[nr * tile:(nr + 1) * tile, nc * tile:(nc + 1) * tile]
            if np.mean(np.all(patch == WALL, axis=-1)) > 0.5:
                return True
    return False
