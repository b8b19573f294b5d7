# corpus: style=gpt-4o; env=MiniGrid-UnlockPickup-v0; label=key_picked; idioms=vision-helpers,largest_component,astype,per-channel-and,logical-not
# ruff: noqa: F821
import numpy as np

TILE = 8


def check(frame):
    # Look only at the left room, where the key starts.
    room = frame[:, : 5 * TILE].astype(np.int32)
    r, g, b = room[:, :, 0], room[:, :, 1], room[:, :, 2]
    bright = room.max(axis=2) >= 200
    is_red = (r > 150) & (g < 80) & (b < 80)  # the agent
    key_mask = bright & np.logical_not(is_red)
    # The key is a small bright blob (about 10 pixels at tile size 8).
    return largest_component(key_mask, 8) < 4
