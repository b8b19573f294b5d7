import numpy as np

def check(frame):
    tile = frame.shape[0] // 8
    green = count_color(frame, (0, 255, 0))
    red = count_color(frame, (255, 0, 0))
    if green == 0:
        return False
    # the goal is one full tile, when the agent stands on it some green is hidden
    if green < tile * tile * 0.9 and red > 0:
        return True
    return False
