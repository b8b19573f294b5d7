import numpy as np


def check(frame):
    """
    Returns True if the agent (red triangle) has reached the green goal square.
    """
    # Define colors
    agent_color = np.array([255, 0, 0])
    goal_color = np.array([0, 255, 0])

    # Create boolean masks for the agent and the goal
    agent_mask = np.all(frame == agent_color, axis=-1)
    goal_mask = np.all(frame == goal_color, axis=-1)

    # If either object is not visible, we cannot confirm success
    if not np.any(agent_mask) or not np.any(goal_mask):
        return False

    # Compute the center of each object
    agent_coords = np.argwhere(agent_mask)
    goal_coords = np.argwhere(goal_mask)
    agent_center = agent_coords.mean(axis=0)
    goal_center = goal_coords.mean(axis=0)

    # Tile size for an 8x8 MiniGrid render
    tile_size = frame.shape[0] // 8

    # The agent is on the goal if the centers are within half a tile
    distance = np.linalg.norm(agent_center - goal_center)
    return bool(distance < tile_size / 2)
