import numpy as np

KEY = np.array([255, 255, 0])
AGENT = np.array([255, 0, 0])
NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))
MIN_TILE_FRACTION = 0.05


def check(frame):
    """Return True if the yellow key occupies a tile next to the agent's tile."""
    height, width = frame.shape[0], frame.shape[1]
    tile = 32 if height % 32 == 0 and height >= 96 else 8
    n_rows, n_cols = height // tile, width // tile

    def tile_fraction(row, col, color):
        """Fraction of pixels in tile (row, col) that exactly match ``color``."""
        patch = frame[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile]
        return np.all(patch == color, axis=-1).mean()

    agent_tiles = [
        (r, c)
        for r in range(n_rows)
        for c in range(n_cols)
        if tile_fraction(r, c, AGENT) > MIN_TILE_FRACTION
    ]
    if not agent_tiles:
        return False

    r, c = agent_tiles[0]
    return any(
        0 <= r + dy < n_rows
        and 0 <= c + dx < n_cols
        and tile_fraction(r + dy, c + dx, KEY) > MIN_TILE_FRACTION
        for dy, dx in NEIGHBOURS
    )
