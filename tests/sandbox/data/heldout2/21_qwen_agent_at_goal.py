import numpy as np

def check(frame):
    # red agent
    red = (frame[:, :, 0] > 200) & (frame[:, :, 1] < 50) & (frame[:, :, 2] < 50)
    # green goal
    green = (frame[:, :, 0] < 50) & (frame[:, :, 1] > 200) & (frame[:, :, 2] < 50)

    red_y, red_x = np.where(red)
    green_y, green_x = np.where(green)

    if len(red_x) == 0 or len(green_x) == 0:
        return False

    agent_x = np.mean(red_x)
    agent_y = np.mean(red_y)
    goal_x = np.mean(green_x)
    goal_y = np.mean(green_y)

    # agent and goal at the same place
    if abs(agent_x - goal_x) < 16 and abs(agent_y - goal_y) < 16:
        return True
    else:
        return False
