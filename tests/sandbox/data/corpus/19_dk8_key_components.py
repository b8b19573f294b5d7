# corpus: style=gpt-4o; env=MiniGrid-DoorKey-8x8-v0; label=key_picked; idioms=vision-helpers,color_mask,component_sizes,np-any,tuple-constant
# ruff: noqa: F821
import numpy as np

KEY_YELLOW = (255, 255, 0)


def check(frame):
    # Pixels close to the key's bright yellow; the door's darker yellow is excluded.
    mask = color_mask(frame, KEY_YELLOW, 40)
    sizes = component_sizes(mask, 8)
    # A key on the floor shows up as a small blob of a few pixels.
    key_visible = bool(np.any((sizes >= 3) & (sizes <= 30)))
    return not key_visible
