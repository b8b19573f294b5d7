import numpy as np

KEY_YELLOW = (255, 255, 0)
NOISE_PIXELS = 6  # blobs smaller than this are rendering artefacts


def count_key_blobs(frame, min_size, max_size):
    """Count yellow blobs with min_size <= size < max_size pixels.

    Doors are also yellow but fill (almost) a whole tile, so an upper size
    bound separates keys from doors.
    """
    mask = color_mask(frame, KEY_YELLOW, tol=10)
    sizes = component_sizes(mask, connectivity=8)
    return sum(1 for s in sizes if min_size <= s < max_size)


def check(frame, first):
    """Return True once every key visible at the start has been collected."""
    tile = 32 if frame.shape[0] >= 256 else 8
    door_size = int(0.7 * tile * tile)

    keys_before = count_key_blobs(first, NOISE_PIXELS, door_size)
    if keys_before == 0:
        return False  # nothing to collect

    keys_now = count_key_blobs(frame, NOISE_PIXELS, door_size)
    return keys_now == 0
