import numpy as np

DOOR_RGB = np.array([255, 255, 0])
WALL_RGB = np.array([100, 100, 100])
SOLID_FRACTION = 0.5  # a locked door fills (most of) its tile with colour


def _tile_fractions(mask, tile):
    """Fraction of True pixels in each tile, as a (rows, cols) array."""
    rows, cols = mask.shape[0] // tile, mask.shape[1] // tile
    trimmed = mask[: rows * tile, : cols * tile].astype(np.float32)
    return trimmed.reshape(rows, tile, cols, tile).mean(axis=(1, 3))


def check(frame, first):
    """True once every door that was solid in the first frame has been opened."""
    tile = frame.shape[0] // 8
    if tile == 0 or first.shape != frame.shape:
        return False

    first_door = _tile_fractions(np.all(first == DOOR_RGB, axis=-1), tile)
    candidates = np.argwhere(first_door >= SOLID_FRACTION)
    if len(candidates) == 0:
        # No locked door at the start of the episode: nothing to unlock.
        return False

    now_door = _tile_fractions(np.all(frame == DOOR_RGB, axis=-1), tile)
    for r, c in candidates:
        if now_door[r, c] >= SOLID_FRACTION:
            return False  # still solid

    # Every door that started solid is no longer solid. Make sure the tile
    # was not simply replaced by wall colour (e.g. a different layout).
    wall_now = _tile_fractions(np.all(frame == WALL_RGB, axis=-1), tile)
    return bool(all(wall_now[r, c] < 0.5 for r, c in candidates))
