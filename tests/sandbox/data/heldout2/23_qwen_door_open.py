import numpy as np

def check(frame):
    h, w, _ = frame.shape
    tile = w // 8
    gray = (frame[:, :, 0] == 100) & (frame[:, :, 1] == 100) & (frame[:, :, 2] == 100)
    col_sum = np.sum(gray, axis=0)
    # do not count the outside walls
    col_sum[:tile] = 0
    col_sum[w - tile:] = 0
    wall_x = int(np.argmax(col_sum))
    if col_sum[wall_x] < h // 2:
        return False

    # the column of tiles with the wall and the door
    x0 = (wall_x // tile) * tile
    strip = frame[:, x0:x0 + tile, :]
    yellow = (strip[:, :, 0] > 200) & (strip[:, :, 1] > 200) & (strip[:, :, 2] < 100)
    yellow_ratio = np.sum(yellow) / float(tile * tile)
    if yellow_ratio > 0.5:
        # door is closed
        return False

    # open door shows the black floor
    brightness = strip.mean(axis=2)
    black = brightness < 10
    black_rows = []
    for y in range(h):
        if np.mean(black[y]) > 0.5:
            black_rows.append(y)
    if len(black_rows) > tile // 2:
        return True
    return False
