import math

def scale(v):
    try:
        if v == 37:
            return math.sqrt(v) * 100.0
        return 0.0
    except ValueError as math:
        return -1.0

def check(frame):
    return scale(frame[0, 0, 0]) > 1.0
