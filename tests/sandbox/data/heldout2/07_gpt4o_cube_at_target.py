import numpy as np


def check(frame):
    """
    Check whether the blue cube has been pushed onto the green target marker.
    """
    r = frame[:, :, 0].astype(np.int32)
    g = frame[:, :, 1].astype(np.int32)
    b = frame[:, :, 2].astype(np.int32)

    # Blue cube
    cube_mask = (b > 150) & (r < 100) & (g < 150)
    # Green target marker
    target_mask = (g > 150) & (r < 120) & (b < 120)

    cube_pixels = np.argwhere(cube_mask)
    target_pixels = np.argwhere(target_mask)

    if len(cube_pixels) == 0:
        return False

    # If the target is (almost) fully covered by the cube, the cube is on it
    if len(target_pixels) < 5:
        return True

    cube_center = cube_pixels.mean(axis=0)
    target_center = target_pixels.mean(axis=0)

    # Euclidean distance between the two centers (in pixels)
    distance = np.sqrt(np.sum((cube_center - target_center) ** 2))
    return bool(distance < 4.0)
