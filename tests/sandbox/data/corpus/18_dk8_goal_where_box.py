# corpus: style=qwen-vl; env=MiniGrid-DoorKey-8x8-v0; label=goal_reached; idioms=np-where,np-all-axis,list-constant,slicing,np-sum
import numpy as np

GREEN = [0, 255, 0]
RED = [255, 0, 0]


def check(frame):
    ys, xs = np.where(np.all(frame == GREEN, axis=-1))
    if len(ys) == 0:
        return False
    goal = frame[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    # red pixels inside the goal square means the agent is on it
    red = np.all(goal == RED, axis=-1)
    return bool(np.sum(red) > 5)
