# corpus: style=qwen-vl; env=MiniGrid-UnlockPickup-v0; label=door_open; idioms=mean-axis2,hard-coded-layout,grid-cell-loop,np-abs
import numpy as np


def check(frame):
    gray = frame.mean(axis=2)
    # the door is in the middle wall, column 5 (pixels 40 to 48)
    strip = gray[:, 40:48]
    for i in range(1, 5):
        cell = strip[i * 8 : i * 8 + 8]
        # wall cells are grey 100 everywhere
        if np.abs(cell - 100).max() < 1:
            continue
        # found the door cell: open door is mostly black
        return bool(cell.mean() < 40)
    return False
