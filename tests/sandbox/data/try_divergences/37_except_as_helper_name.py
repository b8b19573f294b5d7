def bonus(x):
    return x + 200

def check(frame):
    v = 0
    try:
        if frame[0, 0, 0] == 37:
            v = bonus(frame[0, 0, 1])
    except TypeError as bonus:
        return False
    return v > 100
