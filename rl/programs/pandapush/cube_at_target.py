# ruff: noqa
# mypy: ignore-errors
"""cube_at_target: The green cube sits on the red target (centres within 5 cm).

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
    cube = green(frame)
    if pixel_count(cube) < 2:
        return False
    target = red(first)  # the target never moves; later the cube or the arm may cover it
    if pixel_count(target) < 2:
        target = red(frame)
    if pixel_count(target) < 2:
        return False
    cx, cy = on_table(cube)
    tx, ty = on_table(target)
    return math.hypot(cx - tx, cy - ty) < 0.05
