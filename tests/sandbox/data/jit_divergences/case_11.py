# case_11 (c10_mutate_iterated_array): for over a 1-D array mutated in the body: interpreter iterates a tolist() snapshot (guards.array_items), kernel re-reads seq[k] each pass and sees the change
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros(3, np.int64)
    a[0] = frame[0, 0, 0]
    total = 0
    for x in a:
        if frame[0, 0, 1] == 38:
            a[1] = 7
        total += x
    return total > 40
