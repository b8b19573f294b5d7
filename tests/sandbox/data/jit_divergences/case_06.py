# case_06 (c03_reversed_range_min): reversed(range(a, b)) lowered to range(b-1, a-1, -1): a == INT64_MIN wraps a-1 to INT64_MAX, so the loop is empty in the kernel
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    a = 0
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        a = -9223372036854775807 - 1
    for i in reversed(range(a, 3)):
        return a < 0
    return False
