import numpy as np
import math

AGENT_COLOR = (255, 0, 0)
GOAL_COLOR = (0, 255, 0)
COLOR_TOL = 20
MAX_ANGLE_DEG = 30.0


def check(frame):
    """Return True if the agent's triangle points toward the green goal.

    The agent is a red triangle. Its mass centre sits closer to the base than the
    centre of its bounding box does, so the vector from the centroid to the box
    centre points toward the tip. We compare that heading with the goal direction.
    """
    agent = color_mask(frame, AGENT_COLOR, tol=COLOR_TOL)
    goal = color_mask(frame, GOAL_COLOR, tol=COLOR_TOL)
    if pixel_count(agent) < 3 or pixel_count(goal) == 0:
        return False

    ay, ax = centroid(agent)
    gy, gx = centroid(goal)

    def heading():
        # Uses `agent`, `ay`, `ax` from the enclosing scope
        y0, x0, y1, x1 = bbox(agent)
        cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
        return cy - ay, cx - ax

    hy, hx = heading()
    norm_h = math.hypot(hy, hx)
    dist = math.hypot(gy - ay, gx - ax)
    if norm_h < 1e-6 or dist < 1e-6:
        return False  # degenerate: symmetric blob or goal under the agent

    cos_angle = (hy * (gy - ay) + hx * (gx - ax)) / (norm_h * dist)
    return cos_angle > math.cos(math.radians(MAX_ANGLE_DEG))
