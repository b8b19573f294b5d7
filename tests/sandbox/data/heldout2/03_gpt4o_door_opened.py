import numpy as np


def check(frame):
    """
    Returns True if the yellow door has been opened.
    A locked or closed door is drawn as a solid yellow tile; an open door
    only shows a thin yellow edge.
    """
    door_color = np.array([255, 255, 0])
    h, w, _ = frame.shape
    tile = h // 8

    yellow_mask = np.all(frame == door_color, axis=-1).astype(np.float32)

    # Look for a tile that is mostly filled with yellow (closed/locked door)
    for row in range(h // tile):
        for col in range(w // tile):
            cell = yellow_mask[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile]
            if cell.mean() > 0.6:
                # A solid yellow tile means the door is still closed
                return False

    # No solid door tile was found, so the door must be open
    return True
