# case_10 (c08_loopvar_after_empty_loop): loop variable read after a loop that ran zero times: interpreter UnboundLocalError, kernel answers
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    n = 3
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        n = 0
    for i in range(n):
        pass
    return i >= 0
