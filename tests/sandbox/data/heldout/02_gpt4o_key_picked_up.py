import numpy as np

# Color of the key in MiniGrid
KEY_COLOR = (255, 255, 0)
MIN_PIXELS = 4


def check(frame, first):
    """Check whether the yellow key has been picked up (it disappears from the grid)."""
    initial_key_pixels = count_color(first, KEY_COLOR)
    current_key_pixels = count_color(frame, KEY_COLOR)

    # No key visible in the first frame: nothing to pick up
    if initial_key_pixels < MIN_PIXELS:
        return False

    # The key is considered picked up if most of its pixels are gone
    return current_key_pixels < 0.5 * initial_key_pixels
