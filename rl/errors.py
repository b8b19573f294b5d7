"""Exception and warning types raised by :mod:`rl`.

Provides:
    RLError: base class of the errors this module defines.
    CheckerFailureError: a reward checker failed and the failure policy says training stops.
    RewardStackError: a code-reward wrapper was stacked where it gives wrong rewards or frames.
    RewardStackWarning: a stacking that works but makes SB3 report the shaped return as the env's.

:class:`rl.program.ProgramError` (a reward program on disk is missing, malformed, tampered with or
rejected) stays in :mod:`rl.program`, next to the format it describes. This module imports nothing
heavy, so command-line tools can name these types without loading torch.

Every exception keeps its facts as attributes and builds its text in ``__str__``: what went wrong,
where, and what to do about it.
"""

from __future__ import annotations

__all__ = ["CheckerFailureError", "RLError", "RewardStackError", "RewardStackWarning"]


class RLError(Exception):
    """Base class of the errors defined in :mod:`rl.errors`."""


class CheckerFailureError(RLError, RuntimeError):
    """A reward checker failed and the failure policy says training stops.

    Attributes:
        checker: the failing sub-task's name.
        status: why it failed (``error``, ``violation``, ``budget``, ``contract``, ``timeout``,
            ``memory`` or ``crash``).
        detail: the sandbox's message.
        step: the wrapper step (evaluate call) on which it failed, counted from 1.
        failures: total checker failures so far.
        policy: the failure policy in force.

    Example:
        >>> err = CheckerFailureError("key_picked", "timeout", "no answer", step=3, failures=1,
        ...                           policy="raise")
        >>> str(err).split(" (")[0]
        "reward checker 'key_picked' failed on step 3 with status 'timeout': no answer"
    """

    def __init__(
        self, checker: str, status: str, detail: str, *, step: int, failures: int, policy: str
    ) -> None:
        super().__init__(checker, status, detail)
        self.checker = checker
        self.status = status
        self.detail = detail
        self.step = step
        self.failures = failures
        self.policy = policy

    def __str__(self) -> str:
        return (
            f"reward checker {self.checker!r} failed on step {self.step} with status "
            f"{self.status!r}: {self.detail} ({self.failures} checker failure(s) so far; "
            f"failure_policy={self.policy!r} stops training here; use failure_policy='continue' "
            "to count failures and carry on without that checker's bonus)"
        )


class RewardStackError(RLError, ValueError):
    """A code-reward wrapper sits where it would compute a wrong reward or read wrong frames.

    Attributes:
        wrapper: the code-reward wrapper's class name.
        below: the class name of the wrapper it was put on top of.
        problem: what that wrapper does to the reward or the frames.
        fix: the stacking that works.

    Example:
        >>> err = RewardStackError("CodeRewardVecEnv", "VecNormalize", "it rescales rewards",
        ...                        "VecNormalize(CodeRewardVecEnv(venv, program))")
        >>> str(err).split(". ")[0]
        'CodeRewardVecEnv cannot wrap VecNormalize: it rescales rewards'
        >>> err.fix
        'VecNormalize(CodeRewardVecEnv(venv, program))'
    """

    def __init__(self, wrapper: str, below: str, problem: str, fix: str) -> None:
        super().__init__(wrapper, below, problem, fix)
        self.wrapper = wrapper
        self.below = below
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return (
            f"{self.wrapper} cannot wrap {self.below}: {self.problem}. Stack it innermost "
            f"instead: {self.fix}"
        )


class RewardStackWarning(UserWarning):
    """The code reward works, but SB3's episode statistics would report the shaped return.

    Raised (as a warning) when the envs under a code-reward wrapper carry no ``Monitor``: SB3's
    ``evaluate_policy``, ``EvalCallback`` and ``rollout/ep_rew_mean`` then sum the rewards they are
    handed, which include the bonus, and report them as the env's return.
    """
