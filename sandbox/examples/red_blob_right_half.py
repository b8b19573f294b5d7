"""Example checker: the largest red blob's centroid lies in the right half of the frame."""

RED = (255, 0, 0)


def check(frame):
    mask = color_mask(frame, RED, 30)
    if pixel_count(mask) < 4:
        return False
    cy, cx = centroid(mask)
    return cx > frame.shape[1] / 2
