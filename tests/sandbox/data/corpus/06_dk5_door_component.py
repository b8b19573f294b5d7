# corpus: style=claude; env=MiniGrid-DoorKey-5x5-v0; label=door_open; idioms=vision-helpers,connected_components,bbox,region_change,first-frame,early-return,docstring
# ruff: noqa: F821
import numpy as np


def yellow_mask(img):
    """Pixels of any shade of yellow (the door's fill, outline, and the key)."""
    r = img[:, :, 0].astype(np.int32)
    g = img[:, :, 1].astype(np.int32)
    b = img[:, :, 2].astype(np.int32)
    return (r > 80) & (g > 80) & (b < 50)


def check(frame, first):
    """The door is open once its filled square in the first frame has changed.

    In the first frame the locked door is the largest yellow blob (the key is much
    smaller). Opening it leaves only a thin outline, so most of the pixels inside the
    door's bounding box change.
    """
    labels, n = connected_components(yellow_mask(first), 4)
    if n == 0:
        return False
    sizes = component_sizes(yellow_mask(first), 4)
    door_label = int(np.argmax(sizes)) + 1
    y0, x0, y1, x1 = bbox(labels == door_label)
    if y0 < 0:
        return False
    changed = region_change(frame, first, y0, x0, y1 + 1, x1 + 1, 30)
    return bool(changed > 0.5)
