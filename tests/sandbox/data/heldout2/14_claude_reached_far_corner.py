import numpy as np

AGENT_RGB = (255, 0, 0)
WALL_RGB = np.array([100, 100, 100])
DEFAULT_TILES = 8


def _estimate_tile(frame):
    """Estimate the tile size from the thickness of the top-left wall corner.

    Walks down the main diagonal and counts the leading wall-grey pixels; the
    corner wall tile is square, so that count is the tile size. Falls back to
    an 8x8 grid if the border is not where we expect it.
    """
    h, w = frame.shape[:2]
    idx = np.arange(min(h, w))
    diag = frame[idx, idx].astype(np.int32)
    is_wall = np.all(np.abs(diag - WALL_RGB) <= 4, axis=-1)
    thickness = 0
    for value in is_wall:
        if not value:
            break
        thickness += 1
    if thickness == 0 or thickness > min(h, w) // 4:
        return max(1, h // DEFAULT_TILES)
    return thickness


def check(frame):
    """True when the agent stands on the floor tile in the bottom-right corner."""
    h, w = frame.shape[:2]
    tile = _estimate_tile(frame)

    mask = color_mask(frame, AGENT_RGB, tol=20)
    y0, x0, y1, x1 = bbox(mask)
    if y0 < 0:
        return False  # no agent visible

    # A single agent sprite never spans more than one tile; a larger box means
    # we are picking up something else that happens to be red.
    if (y1 - y0) >= tile or (x1 - x0) >= tile:
        return False

    corner_y = h - 2 * tile
    corner_x = w - 2 * tile
    return y0 >= corner_y and x0 >= corner_x and y1 < h - tile and x1 < w - tile
