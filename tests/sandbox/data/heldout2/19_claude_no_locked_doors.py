import numpy as np

# Colours a MiniGrid door can take that are not also the agent (red), goal
# (green) or wall (grey) colour.
DOOR_RGBS = ((255, 255, 0), (0, 0, 255), (112, 39, 195))
SOLID = 0.7  # a closed door fills its tile; an open one is a thin edge


def _encode(pixels):
    """Pack RGB into one int per pixel so colours can be matched with np.isin."""
    p = pixels.astype(np.int64)
    return (p[..., 0] << 16) | (p[..., 1] << 8) | p[..., 2]


DOOR_CODES = np.array([(r << 16) | (g << 8) | b for r, g, b in DOOR_RGBS], dtype=np.int64)


def check(frame):
    """True when no tile looks like a closed or locked door."""
    h, w = frame.shape[:2]
    tile = h // 8
    if tile == 0:
        return True

    is_door_colour = np.isin(_encode(frame), DOOR_CODES)
    for r in range(h // tile):
        for c in range(w // tile):
            block = is_door_colour[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
            if block.mean() >= SOLID:
                return False
    return True
