import numpy as np

def check(frame, first):
    # colors of objects: yellow key, blue ball, purple box
    colors = ((255, 255, 0), (0, 0, 255), (112, 39, 195))
    picked = 0
    total = 0
    for color in colors:
        before = count_color(first, color)
        after = count_color(frame, color)
        if before > 0:
            total += 1
            # object disappeared (more than half of pixels gone)
            if after < before * 0.5:
                picked += 1
    if total == 0:
        return False
    # at least one object is picked up
    return picked >= 1
