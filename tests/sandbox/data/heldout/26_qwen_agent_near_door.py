import numpy as np
import math

def check(frame):
    agent = color_mask(frame, (255, 0, 0))
    door = color_mask(frame, (255, 255, 0))
    if pixel_count(agent) == 0 or pixel_count(door) == 0:
        return False
    ay, ax = centroid(agent)
    dy, dx = centroid(door)
    dist = lambda p, q: math.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2)
    d = dist((ay, ax), (dy, dx))
    # tile size
    if frame.shape[0] > 200:
        tile = 32
    else:
        tile = 8
    # near means within about one tile
    return d < 1.5 * tile
