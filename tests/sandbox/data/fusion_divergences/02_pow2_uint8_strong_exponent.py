import numpy as np

def check(frame, first):
    return (frame[..., 0] ** 2).max() > 200
