import numpy as np

def check(frame, first):
    cube_color = (30, 80, 220)
    m0 = color_mask(first, cube_color, tol=40)
    m1 = color_mask(frame, cube_color, tol=40)
    if m0.sum() == 0 or m1.sum() == 0:
        return False
    y0, x0 = centroid(m0)
    y1, x1 = centroid(m1)
    d = np.sqrt((y1 - y0) ** 2 + (x1 - x0) ** 2)
    # moved more than 5 pixels
    return d > 5
