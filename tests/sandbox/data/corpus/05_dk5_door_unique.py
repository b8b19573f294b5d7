# corpus: style=qwen-vl; env=MiniGrid-DoorKey-5x5-v0; label=door_open; idioms=np-unique,reshape,np-abs,astype,tuple-constant
import numpy as np

# the locked door is filled with a dark yellow
LOCKED_DOOR = (128, 128, 0)


def check(frame):
    colors = np.unique(frame.reshape(-1, 3), axis=0).astype(np.int32)
    diff = np.abs(colors - np.array(LOCKED_DOOR)).max(axis=1)
    # door is open if the dark yellow colour is not in the image any more
    return bool(not np.any(diff <= 20))
