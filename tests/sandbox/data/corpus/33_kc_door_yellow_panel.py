# corpus: style=qwen-vl; env=MiniGrid-KeyCorridorS3R1-v0; label=door_open; idioms=np-all-axis,np-abs,astype,list-constant,count_nonzero
import numpy as np

# locked door: yellow with darker inside
LOCKED = [114, 114, 0]


def check(frame):
    diff = np.abs(frame.astype(np.int32) - LOCKED)
    panel = np.all(diff < 15, axis=-1)
    # the door is open when the locked door panel is not visible
    return bool(np.count_nonzero(panel) == 0)
