# corpus: style=qwen-vl; env=MiniGrid-KeyCorridorS3R1-v0; label=ball_picked; idioms=try-except,np-array-constant,np-all-axis,np-sum
import numpy as np

BALL = np.array([112, 39, 195], dtype=np.uint8)


def check(frame):
    try:
        ball = np.all(frame == BALL, axis=-1)
        # the purple ball is gone
        return bool(np.sum(ball) == 0)
    except Exception:
        return False
