# corpus: style=claude; env=MiniGrid-UnlockPickup-v0; label=box_picked; idioms=isin,packed-colour-codes,np-unique,first-frame,astype,module-helper,docstring
import numpy as np

TILE = 8


def colour_codes(img):
    """Pack each RGB pixel into one integer so colours can be compared with np.isin."""
    img = img.astype(np.int32)
    return img[:, :, 0] * 65536 + img[:, :, 1] * 256 + img[:, :, 2]


def right_room(img):
    """The interior of the right-hand room (right of the dividing wall)."""
    x0 = (img.shape[1] // 2) + TILE
    return img[TILE : img.shape[0] - TILE, x0 : img.shape[1] - TILE]


def check(frame, first):
    """The box has been picked up once its colours are gone from the right room.

    The right room holds only the box at the start, so the colours found there in the
    first frame (apart from black floor and grey grid lines) are the box's colours.
    """
    start = colour_codes(right_room(first))
    background = np.array([0, 33 * 65793, 55 * 65793, 100 * 65793])
    box_codes = np.unique(start[~np.isin(start, background)])
    if box_codes.size == 0:
        return False
    before = np.count_nonzero(np.isin(start, box_codes))
    after = np.count_nonzero(np.isin(colour_codes(right_room(frame)), box_codes))
    return bool(after < 0.25 * before)
