"""L4, in-process budgets: deterministic, fast failure for runaway checkers.

Provides:
    Budgets: the limits for one checker call (iterations, calls, array bytes, sequence length).
    Meter: the mutable counters for one checker, reset at the start of every call.
    INT_MIN, INT_MAX: the 64-bit range every Python integer in a checker stays within.
    wrap_int: an exact integer reduced to int64 two's complement (what both paths compute).
    check_int: an integer that must already fit in 64 bits.

Budgets are a fast-fail optimisation with clear errors, not the wall: a single long C call (a huge
sort, a regex) is stopped only by the worker's CPU limit and the parent's watchdog (L0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sandbox.errors import BudgetExceeded

__all__ = ["INT_MAX", "INT_MIN", "Budgets", "Meter", "check_int", "wrap_int"]

#: Checker integers are 64-bit two's complement, as in the JIT path: Python's unbounded ints would
#: make the two paths disagree (2**62 + 2**62) and make ``9 ** 9 ** 9`` a CPU and memory bomb.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_INT_SPAN = 2**64


@dataclass(frozen=True)
class Budgets:
    """Limits for one call of a checker.

    Attributes:
        max_iterations: loop iterations (``for``, ``while``, comprehensions, iterating builtins).
        max_calls: calls of functions defined by the checker (recursion included).
        max_array_bytes: bytes of any single array a numpy facade call, an operator or a vision
            helper may produce.
        max_total_bytes: bytes of everything the meter sees produced during one call: arrays, and
            the lists, tuples, strings, sets and dicts built in one step (a copy, a slice, a
            concatenation, ``list(...)``, ``sorted(...)``...). Freed objects still count.
        max_sequence_len: items in a list, tuple or string built by ``*`` or ``+``.
        max_seconds: wall-clock seconds for one call, checked every 256 budgeted operations and
            at every numpy call (a single long C call is stopped only by the worker's watchdog).

    Example:
        >>> Budgets(max_iterations=10).max_iterations
        10
    """

    max_iterations: int = 1_000_000
    max_calls: int = 100_000
    max_array_bytes: int = 64 * 2**20
    max_total_bytes: int = 1024 * 2**20
    max_sequence_len: int = 1_000_000
    max_seconds: float = 10.0

    def __post_init__(self) -> None:
        for name in (
            "max_iterations",
            "max_calls",
            "max_array_bytes",
            "max_total_bytes",
            "max_sequence_len",
        ):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(
                    f"Budgets({name}={value!r}) (type={type(value).__name__}): must be a "
                    "positive int"
                )
        seconds = self.max_seconds
        if type(seconds) not in (int, float) or not seconds > 0:
            raise ValueError(
                f"Budgets(max_seconds={seconds!r}) (type={type(seconds).__name__}): must be a "
                "positive number"
            )


class Meter:
    """Counters for one checker; :meth:`reset` starts a call.

    Not thread-safe: one checker call at a time per meter (each worker owns its checkers).

    Example:
        >>> m = Meter(Budgets(max_iterations=2))
        >>> m.iterate(); m.iterate()
        >>> m.iterate()
        Traceback (most recent call last):
        ...
        sandbox.errors.BudgetExceeded: budget 'iterations' of 2 exceeded
    """

    __slots__ = ("budgets", "bytes", "calls", "deadline", "iterations")

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets
        self.iterations = 0
        self.calls = 0
        self.bytes = 0
        self.deadline = float("inf")  # until the first reset()

    def reset(self) -> None:
        """Zero the counters and start the clock at the start of a call."""
        self.iterations = 0
        self.calls = 0
        self.bytes = 0
        self.deadline = time.perf_counter() + self.budgets.max_seconds

    def checkpoint(self) -> None:
        """Check the wall-clock budget.

        Raises:
            BudgetExceeded: when the call has run longer than ``max_seconds``.
        """
        if time.perf_counter() > self.deadline:
            raise BudgetExceeded("seconds", int(self.budgets.max_seconds))

    def iterate(self, n: int = 1) -> None:
        """Count ``n`` loop iterations (and look at the clock every 256).

        Raises:
            BudgetExceeded: when the iteration or time budget is spent.
        """
        self.iterations += n
        if self.iterations > self.budgets.max_iterations:
            raise BudgetExceeded("iterations", self.budgets.max_iterations)
        if not self.iterations & 255:
            self.checkpoint()

    def call(self) -> None:
        """Count one call of a checker-defined function (and look at the clock every 256).

        Raises:
            BudgetExceeded: when the call or time budget is spent.
        """
        self.calls += 1
        if self.calls > self.budgets.max_calls:
            raise BudgetExceeded("calls", self.budgets.max_calls)
        if not self.calls & 255:
            self.checkpoint()

    def allocate(self, nbytes: int) -> None:
        """Charge an array of ``nbytes`` against the per-array and per-call byte budgets.

        Raises:
            BudgetExceeded: when either byte budget would be exceeded.
        """
        if nbytes > self.budgets.max_array_bytes:
            raise BudgetExceeded("array_bytes", self.budgets.max_array_bytes, nbytes)
        self.bytes += nbytes
        if self.bytes > self.budgets.max_total_bytes:
            raise BudgetExceeded("total_bytes", self.budgets.max_total_bytes, self.bytes)

    def charge(self, nbytes: int) -> None:
        """Charge Python objects (lists, strings, sets...) of ``nbytes`` against the per-call total.

        Raises:
            BudgetExceeded: when the per-call byte budget would be exceeded.
        """
        self.bytes += nbytes
        if self.bytes > self.budgets.max_total_bytes:
            raise BudgetExceeded("total_bytes", self.budgets.max_total_bytes, self.bytes)

    def sequence(self, length: int) -> None:
        """Check the length of a sequence about to be built.

        Raises:
            BudgetExceeded: when ``length`` exceeds the sequence budget.
        """
        if length > self.budgets.max_sequence_len:
            raise BudgetExceeded("sequence_len", self.budgets.max_sequence_len, length)


def wrap_int(value: int) -> int:
    """Reduce an exact integer to int64 two's complement, as native 64-bit arithmetic does.

    Example:
        >>> wrap_int(2**63), wrap_int(2**64 + 5), wrap_int(-(2**63) - 1)
        (-9223372036854775808, 5, 9223372036854775807)
    """
    if INT_MIN <= value <= INT_MAX:
        return int(value)
    return (int(value) - INT_MIN) % _INT_SPAN + INT_MIN


def check_int(value: int) -> int:
    """Return ``value`` if it fits in 64 bits (for values that must not wrap, such as budgets).

    Raises:
        BudgetExceeded: when it does not (budget ``int64``).
    """
    if INT_MIN <= value <= INT_MAX:
        return value
    raise BudgetExceeded("int64", INT_MAX, value.bit_length() if value > 0 else -value.bit_length())
