"""Example of what the audit rejects: reaching os through numpy's public attributes."""

import numpy as np


def check(frame):
    np.f2py.os.system("id")
    return True
