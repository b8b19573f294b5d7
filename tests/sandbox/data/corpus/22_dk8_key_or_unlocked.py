# corpus: style=claude; env=MiniGrid-DoorKey-8x8-v0; label=key_picked; idioms=vision-helpers,count_color,module-helper,boolean-logic,docstring,per-channel-and
# ruff: noqa: F821
import numpy as np

KEY = (255, 255, 0)


def door_panel_visible(frame):
    """The locked door's inner panel: a dark yellow around half the key's brightness."""
    img = frame.astype(np.int32)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    panel = (r > 90) & (r < 140) & (g > 90) & (g < 140) & (b < 20)
    return int(panel.sum()) >= 8


def check(frame):
    """The key counts as picked up once it is gone from the floor.

    Dropping the key after unlocking the door does not undo the sub-task, so an
    unlocked door also means the key was picked up.
    """
    key_on_floor = count_color(frame, KEY, 30) >= 3
    if not key_on_floor:
        return True
    return not door_panel_visible(frame)
