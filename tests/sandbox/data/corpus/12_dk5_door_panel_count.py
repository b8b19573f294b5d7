# corpus: style=gpt-4o; env=MiniGrid-DoorKey-5x5-v0; label=door_open; idioms=count_nonzero,astype,per-channel-and
import numpy as np

# The locked door has a darker yellow inner panel (roughly half brightness).
PANEL_MIN = 90
PANEL_MAX = 140
MIN_PANEL_PIXELS = 10


def check(frame):
    img = frame.astype(np.int32)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    panel = (r > PANEL_MIN) & (r < PANEL_MAX) & (np.abs(r - g) <= 5) & (b < 30)
    # the door is open once no dark-yellow panel is visible
    return bool(np.count_nonzero(panel) < MIN_PANEL_PIXELS)
