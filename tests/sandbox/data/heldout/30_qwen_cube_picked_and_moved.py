import numpy as np

def check(frame, first):
    green = (0, 255, 0)
    m_first = color_mask(first, green, tol=60)
    m_now = color_mask(frame, green, tol=60)
    if pixel_count(m_first) < 10 or pixel_count(m_now) < 10:
        return False
    # old position of the cube
    y0, x0, y1, x1 = bbox(m_first)
    # how much the old place changed
    change = region_change(frame, first, y0, x0, y1 + 1, x1 + 1, tol=30)
    # color of the cube now, should still be green
    r, g, b = mean_color(frame, m_now)
    still_green = g > r + 50 and g > b + 50
    return change > 0.5 and still_green
