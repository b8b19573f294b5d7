# corpus: style=claude; env=MiniGrid-DoorKey-8x8-v0; label=key_picked; idioms=grid-cell-loop,module-helper,string-labels,list-append,in-operator,docstring,dict-constant
import numpy as np

TILE = 8

# Reference colours from the environment notes.
COLORS = {
    "agent": (255, 0, 0),
    "key": (255, 255, 0),
    "goal": (0, 255, 0),
    "wall": (100, 100, 100),
}


def classify_tile(tile):
    """Return a coarse label for one 8x8 tile: 'wall', 'goal', 'key', 'door', 'agent' or 'floor'."""
    pixels = tile.reshape(-1, 3).astype(np.int32)
    counts = {}
    for name, rgb in COLORS.items():
        dist = np.abs(pixels - np.array(rgb)).max(axis=1)
        counts[name] = int(np.sum(dist <= 30))
    n = pixels.shape[0]
    if counts["wall"] > 0.8 * n:
        return "wall"
    if counts["goal"] > 0.3 * n:
        return "goal"
    if counts["agent"] > 0.1 * n:
        return "agent"
    if counts["key"] > 0:
        return "key"
    # a door is yellow-ish but darker than the key
    mean = pixels.mean(axis=0)
    if mean[0] > 60 and mean[1] > 60 and mean[2] < 30:
        return "door"
    return "floor"


def grid_labels(frame):
    """Label every tile of the grid, row by row."""
    rows = frame.shape[0] // TILE
    cols = frame.shape[1] // TILE
    labels = []
    for r in range(rows):
        for c in range(cols):
            tile = frame[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE]
            labels.append(classify_tile(tile))
    return labels


def check(frame):
    """The key has been picked up when no tile of the grid shows it."""
    return "key" not in grid_labels(frame)
