# corpus: style=gpt-4o; env=MiniGrid-UnlockPickup-v0; label=box_picked; idioms=first-frame,astype,saturation,np-where,slicing,early-return
import numpy as np

TILE = 8


def coloured(img):
    # saturated pixels: walls, floor and grid lines are grey (R == G == B)
    img = img.astype(np.int32)
    return (img.max(axis=2) - img.min(axis=2)) > 20


def check(frame, first):
    # the box is the only coloured object in the right room at the start
    x_start = (frame.shape[1] // 2) + TILE
    right_first = coloured(first[:, x_start:])
    ys, xs = np.where(right_first)
    if len(ys) == 0:
        return False
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    before = right_first[y0:y1, x0:x1].sum()
    after = coloured(frame[:, x_start:])[y0:y1, x0:x1].sum()
    # box picked when most of its pixels disappeared
    return bool(after < 0.3 * before)
