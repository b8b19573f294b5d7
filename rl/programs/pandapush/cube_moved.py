# ruff: noqa
# mypy: ignore-errors
"""cube_moved: The green cube has moved more than 2 cm from where it started.

Hand-written reference checker for PandaPush-v3, written by rl/programs/reference.py.
Frames: the fixed oblique Tiny-renderer view of rl.envs.PANDA_CAMERA, any size; the cube is the
only green object and the (recoloured) target the only red one.
"""

import math

import numpy as np

# The camera is fixed: this homography maps a pixel (x / width, y / height, 1) to the table plane
# 3 cm above the table top (x, y, w), in metres, so distances can be measured in metres.
TABLE_FROM_IMAGE = (
    (-1.077149, 1.581274, -0.201872),
    (1.077149, 1.581274, -1.279021),
    (0.0, 2.732049, 1.0),
)


def green(frame):
    f = frame.astype(np.int32)
    return (f[:, :, 1] > 60) & (f[:, :, 1] > 2 * f[:, :, 0]) & (f[:, :, 1] > 2 * f[:, :, 2])


def red(frame):
    f = frame.astype(np.int32)
    return (f[:, :, 0] > 60) & (f[:, :, 0] > 2 * f[:, :, 1]) & (f[:, :, 0] > 2 * f[:, :, 2])


def on_table(mask):
    # table-plane position (metres) of the centroid of a mask
    cy, cx = centroid(mask)
    u = (cx + 0.5) / mask.shape[1]
    v = (cy + 0.5) / mask.shape[0]
    h = TABLE_FROM_IMAGE
    w = h[2][0] * u + h[2][1] * v + h[2][2]
    return (h[0][0] * u + h[0][1] * v + h[0][2]) / w, (h[1][0] * u + h[1][1] * v + h[1][2]) / w


def check(frame, first):
    now = green(frame)
    start = green(first)
    seen = pixel_count(start)
    if seen < 2 or pixel_count(now) < 0.3 * seen:
        return False  # the arm hides most of the cube: no reliable position, say no
    x0, y0 = on_table(start)
    x1, y1 = on_table(now)
    return math.hypot(x1 - x0, y1 - y0) > 0.02
