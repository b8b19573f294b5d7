import numpy as np

# Key colours used by MiniGrid objects. Doors share these colours, so we tell a
# key from a door by the size of its connected blob: a key covers well under
# half a tile, a closed door covers (nearly) the whole tile.
KEY_COLOURS = ((255, 255, 0), (0, 0, 255), (112, 39, 195))
MAX_KEY_FRACTION = 0.45


def _has_key_blob(frame, rgb, tile):
    """Whether some connected blob of colour `rgb` is key-sized."""
    mask = color_mask(frame, rgb, tol=12)
    if not mask.any():
        return False
    sizes = component_sizes(mask, 8)
    limit = MAX_KEY_FRACTION * tile * tile
    min_size = max(2, tile * tile // 32)  # ignore isolated noise pixels
    return any(min_size <= s <= limit for s in sizes)


def check(frame):
    """True once no key is lying on the floor, i.e. the agent is carrying it."""
    tile = frame.shape[0] // 8
    if tile < 2:
        return False
    for rgb in KEY_COLOURS:
        if _has_key_blob(frame, rgb, tile):
            return False
    return True
