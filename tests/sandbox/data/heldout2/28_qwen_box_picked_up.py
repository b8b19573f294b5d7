import numpy as np

def check(frame):
    purple = np.array([112, 39, 195])
    # all the colors in the image
    colors = np.unique(frame.reshape(-1, 3), axis=0)
    found = False
    for c in colors:
        if c[0] == purple[0] and c[1] == purple[1] and c[2] == purple[2]:
            found = True
            break
    # the box is picked up when there is no purple anymore
    return not found
