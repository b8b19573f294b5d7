import numpy as np

# Define colors
GOAL_COLOR = (0, 255, 0)
AGENT_COLOR = (255, 0, 0)


def check(frame, first):
    """Return True if the agent has reached the green goal square."""
    goal_now = np.all(frame == GOAL_COLOR, axis=-1)
    goal_start = np.all(first == GOAL_COLOR, axis=-1)

    # If there was no goal at the start, we cannot tell
    if np.sum(goal_start) == 0:
        return False

    # When the agent stands on the goal, part of the green tile is covered
    covered = goal_start & ~goal_now
    agent = np.all(frame == AGENT_COLOR, axis=-1)
    overlap = np.sum(covered & agent)
    return bool(overlap > 0)
