import math

AGENT_RED = (255, 0, 0)
MIN_SHIFT_PX = 4.0


def check(frame, first):
    """Return True if the agent has moved away from where it started.

    Compares the agent's centroid in the first frame with its centroid now.
    Turning in place changes the triangle's shape slightly, so a small shift
    threshold avoids counting rotations as movement.
    """
    start_mask = color_mask(first, AGENT_RED)
    now_mask = color_mask(frame, AGENT_RED)

    # Early exit: agent not visible in one of the frames
    if pixel_count(start_mask) == 0 or pixel_count(now_mask) == 0:
        return False

    y_start, x_start = centroid(start_mask)
    y_now, x_now = centroid(now_mask)
    shift = math.hypot(y_now - y_start, x_now - x_start)

    # Frames rendered at 32 px per tile move in bigger steps than 8 px ones
    scale = 4.0 if min(frame.shape[0], frame.shape[1]) >= 256 else 1.0
    return shift >= MIN_SHIFT_PX * scale
