import numpy as np

PALETTE = {
    "agent": np.array([255, 0, 0]),
    "ball": np.array([0, 0, 255]),
    "wall": np.array([100, 100, 100]),
}
GRID = 8
MIN_COVER = 0.08  # fraction of a tile a thing must cover to count as present


def _classify_tiles(frame, tile):
    """Map each (row, col) tile to the set of palette names present in it."""
    found = {}
    for name, rgb in PALETTE.items():
        mask = np.all(frame == rgb, axis=-1)
        for r in range(GRID):
            for c in range(GRID):
                block = mask[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
                if block.size and block.mean() >= MIN_COVER:
                    found.setdefault((r, c), set()).add(name)
    return found


def check(frame):
    """True when the blue ball is on a tile orthogonally adjacent to the agent."""
    tile = frame.shape[0] // GRID
    if tile == 0:
        return False

    tiles = _classify_tiles(frame, tile)
    agent_tiles = [rc for rc, names in tiles.items() if "agent" in names]
    ball_tiles = [rc for rc, names in tiles.items() if "ball" in names and "agent" not in names]

    # Exactly one agent tile, otherwise the frame is not what we expect.
    if len(agent_tiles) != 1 or not ball_tiles:
        return False

    ar, ac = agent_tiles[0]
    return any(abs(ar - br) + abs(ac - bc) == 1 for br, bc in ball_tiles)
