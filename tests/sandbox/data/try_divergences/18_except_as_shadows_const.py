K = 5

def check(frame):
    v = 0
    try:
        if frame[0, 0, 0] == 37:
            v = K + 100
    except Exception as K:
        return False
    return v > 100
