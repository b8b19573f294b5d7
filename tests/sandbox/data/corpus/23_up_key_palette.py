# corpus: style=claude; env=MiniGrid-UnlockPickup-v0; label=key_picked; idioms=dict-constant,dict-items-loop,vision-helpers,count_color,first-frame,module-helper,early-return,docstring
# ruff: noqa: F821
# MiniGrid's palette. Red is left out: the agent is red and would be mistaken for a key.
PALETTE = {
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "purple": (112, 39, 195),
    "yellow": (255, 255, 0),
    "grey": (100, 100, 100),
}
TILE = 8
LEFT_ROOM_END = 5 * TILE  # the left room ends at the dividing wall (column 5)


def key_pixels(frame, rgb):
    """Pixels of exactly this palette colour inside the left room's interior."""
    room = frame[TILE : frame.shape[0] - TILE, TILE:LEFT_ROOM_END]
    return count_color(room, rgb, 8)


def key_colour(first):
    """The palette colour of the key in the first frame, or None."""
    best, best_n = None, 0
    for name, rgb in PALETTE.items():
        if name == "grey":
            continue  # walls and grid lines are grey
        n = key_pixels(first, rgb)
        if n > best_n:
            best, best_n = rgb, n
    return best


def check(frame, first):
    """The key starts in the left room; it has been picked up once it is gone from there."""
    rgb = key_colour(first)
    if rgb is None:
        return False
    return key_pixels(frame, rgb) < 3
