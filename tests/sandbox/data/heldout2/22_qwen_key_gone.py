import numpy as np

def check(frame):
    h, w, _ = frame.shape
    tile = h // 8
    key_cells = []
    for i in range(8):
        for j in range(8):
            cell = frame[i * tile:(i + 1) * tile, j * tile:(j + 1) * tile]
            yellow = (cell[:, :, 0] > 200) & (cell[:, :, 1] > 200) & (cell[:, :, 2] < 80)
            count = np.sum(yellow)
            # key is small, the door fills the whole cell
            if count > 0.05 * tile * tile and count < 0.5 * tile * tile:
                key_cells.append((i, j))
    if len(key_cells) == 0:
        return True
    return False
