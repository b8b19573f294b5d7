import numpy as np

# Key colors used in MiniGrid environments
KEY_COLORS = {
    "yellow": (255, 255, 0),
    "blue": (0, 0, 255),
    "purple": (112, 39, 195),
}


def check(frame):
    """
    Returns True if no keys remain on the floor (all keys have been collected).
    """
    tile = frame.shape[0] // 8

    # A key covers only part of a tile, so even a small number of pixels counts
    min_pixels = max(1, (tile * tile) // 20)

    for name, rgb in KEY_COLORS.items():
        n = count_color(frame, rgb)
        if n >= min_pixels:
            # A key of this color is still visible
            return False

    return True
