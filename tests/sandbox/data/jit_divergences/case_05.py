# case_05 (c06_hoist_name_collision): hoisted nested-function names collide: a__b.c and a.b__c both become _vlmcar_f_a__b__c; the later def wins for both call sites
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def a__b(frame):
    def c(x):
        return x == 38
    return c(frame[0, 0, 1])


def a(frame):
    def b__c(x):
        return x == 37
    return b__c(frame[0, 0, 0])


def check(frame):
    return a(frame) and a__b(frame)
