# corpus: style=gpt-4o; env=MiniGrid-DoorKey-8x8-v0; label=door_open; idioms=grid-cell-loop,first-frame,astype,np-abs,module-helper,tuple-return
import numpy as np

TILE = 8


def find_door_tile(img):
    # the door is the tile with the most dark-yellow pixels
    best, best_pos = 0, (-1, -1)
    h, w = img.shape[0] // TILE, img.shape[1] // TILE
    for r in range(h):
        for c in range(w):
            t = img[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE].astype(np.int32)
            m = (t[:, :, 0] > 80) & (t[:, :, 1] > 80) & (t[:, :, 2] < 40) & (t[:, :, 0] < 200)
            n = int(m.sum())
            if n > best:
                best, best_pos = n, (r, c)
    return best_pos


def check(frame, first):
    r, c = find_door_tile(first)
    if r < 0:
        return False
    a = frame[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE].astype(np.int32)
    b = first[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE].astype(np.int32)
    # opening the door removes its filled panel -> large change in that tile
    return bool(np.abs(a - b).mean() > 30)
