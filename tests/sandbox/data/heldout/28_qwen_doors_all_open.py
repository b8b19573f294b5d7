import numpy as np

def check(frame):
    T = 32 if frame.shape[0] >= 256 else 8
    rows = frame.shape[0] // T
    cols = frame.shape[1] // T
    yellow = (255, 255, 0)

    def yellow_ratio(i, j):
        patch = frame[i * T:(i + 1) * T, j * T:(j + 1) * T]
        return np.all(patch == yellow, axis=-1).mean()

    # closed door is a full yellow tile
    closed = sum(1 for i in range(rows) for j in range(cols) if yellow_ratio(i, j) > 0.6)
    # open door only shows the yellow border
    opened = sum(1 for i in range(rows) for j in range(cols) if 0.1 < yellow_ratio(i, j) <= 0.6)
    return closed == 0 and opened > 0
