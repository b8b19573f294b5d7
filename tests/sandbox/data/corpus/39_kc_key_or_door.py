# corpus: style=gpt-4o; env=MiniGrid-KeyCorridorS3R1-v0; label=key_picked; idioms=logical_and-reduce,vision-helpers,largest_component,module-helper,boolean-logic,astype
# ruff: noqa: F821
import numpy as np


def key_visible(frame):
    img = frame.astype(np.int32)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    bright = img.max(axis=2) >= 200
    not_agent = np.logical_not(np.logical_and.reduce([r > 150, g < 80, b < 80]))
    blob = largest_component(bright & not_agent, 8)
    # a key is a small blob; the ball is larger and rounder
    return 4 <= blob <= 12


def locked_door_visible(frame):
    img = frame.astype(np.int32)
    hi = img.max(axis=2)
    lo = img.min(axis=2)
    # a locked door has a flat, half-bright coloured panel
    panel = np.logical_and.reduce([hi > 80, hi < 150, hi - lo > 60])
    return int(panel.sum()) >= 12


def check(frame):
    # The key is done once it has left the floor, or once the door it opens is unlocked.
    return (not key_visible(frame)) or (not locked_door_visible(frame))
