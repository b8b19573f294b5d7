import numpy as np


def check(frame, first):
    """Return True if the green cube has been lifted above its initial height."""

    # Green cube: strong green channel, weak red and blue
    def cube_mask(img):
        img = img.astype(np.int16)
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        return (g > 150) & (g - r > 60) & (g - b > 60)

    m0 = cube_mask(first)
    m1 = cube_mask(frame)
    if m0.sum() < 10 or m1.sum() < 10:
        return False

    rows0 = np.where(m0.any(axis=1))[0]
    rows1 = np.where(m1.any(axis=1))[0]

    # Image y grows downward, so lifting means the bottom edge moves up
    lift = rows0.max() - rows1.max()
    return lift > 0.05 * frame.shape[0]
