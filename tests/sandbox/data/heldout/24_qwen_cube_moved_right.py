import numpy as np

def check(frame, first):
    # get green cube pixels
    def get_cube(img):
        r = img[:, :, 0].astype(np.int32)
        g = img[:, :, 1].astype(np.int32)
        b = img[:, :, 2].astype(np.int32)
        mask = (g > 150) & (r < 100) & (b < 100)
        return np.argwhere(mask)

    pts0 = get_cube(first)
    pts1 = get_cube(frame)
    if len(pts0) == 0 or len(pts1) == 0:
        return False
    x0 = pts0[:, 1].mean()
    x1 = pts1[:, 1].mean()
    # cube moved to the right by at least 5 pixels
    return x1 - x0 > 5
