import numpy as np
import math

def check(frame):
    r = frame[:, :, 0].astype(int)
    g = frame[:, :, 1].astype(int)
    b = frame[:, :, 2].astype(int)

    # blue cube and green target
    cube = (b > 150) & (r < 100)
    target = (g > 150) & (r < 150) & (b < 150)

    cy, cx = np.nonzero(cube)
    ty, tx = np.nonzero(target)
    if len(cy) == 0 or len(ty) == 0:
        return False

    dist = math.sqrt((cy.mean() - ty.mean()) ** 2 + (cx.mean() - tx.mean()) ** 2)
    return dist < 8
