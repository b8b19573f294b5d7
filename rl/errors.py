"""Exception and warning types raised by :mod:`rl`.

Provides:
    RLError: base class of the errors this module defines.
    CheckerFailureError: a reward checker failed and the failure policy says training stops.
    RewardStackError: a code-reward wrapper was stacked where it gives wrong rewards or frames.
    RewardStackWarning: a stacking that works but makes SB3 report the shaped return as the env's.
    RelabelError: a relabelling run (:mod:`rl.relabel`) refused before or between partitions.
    RayUnavailableError: Ray is not installed, or no Ray cluster answers at the address given.
    NodeIsolationError: a worker node cannot provide the isolation level the run asked for.
    PartitionError: a relabelling partition failed while it ran (the finished ones are kept).
    RelabelInterrupted: Ctrl-C during a relabelling run (a ``KeyboardInterrupt``), with its counts.
    UnknownSchemeError: a reward scheme name that is not registered (a ``ValueError``).
    RewardDiagnosisWarning: a stall or flooding alarm raised during training (a ``UserWarning``).

:class:`rl.program.ProgramError` (a reward program on disk is missing, malformed, tampered with or
rejected) stays in :mod:`rl.program`, next to the format it describes. This module imports nothing
heavy (only :mod:`sandbox.errors`), so command-line tools can name these types without loading
torch.

Every exception keeps its facts as attributes and builds its text in ``__str__``: what went wrong,
where, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.errors import IsolationUnavailable

__all__ = [
    "CheckerFailureError",
    "NodeIsolationError",
    "PartitionError",
    "RLError",
    "RayUnavailableError",
    "RelabelError",
    "RelabelInterrupted",
    "RewardDiagnosisWarning",
    "RewardStackError",
    "RewardStackWarning",
    "UnknownSchemeError",
]


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


class RelabelError(RLError, ValueError):
    """A relabelling run that cannot start (or resume) as asked; refused before any work.

    Attributes:
        what: the argument, file or folder involved.
        problem: what is wrong and what to do.

    Example:
        >>> str(RelabelError("out.npz", "exists; pass --resume or choose another --out"))
        'out.npz: exists; pass --resume or choose another --out'
    """

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(what, problem)
        self.what = what
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


class RayUnavailableError(RelabelError):
    """Ray is not installed, or no Ray cluster answers at the address given (``--ray ADDRESS``)."""


class NodeIsolationError(RLError, IsolationUnavailable):
    """A worker node cannot provide the isolation level the run asked for, so the run refuses there.

    A subclass of :class:`sandbox.errors.IsolationUnavailable` (``vlmcar`` exit code 2), naming
    the node, so that a cluster with one weaker machine never relabels part of a dataset under
    weaker isolation. Picklable (it crosses from a Ray worker to the driver).

    Attributes:
        node: the node's host name.
        level: the isolation level asked for.
        missing: the layers that node lacks, each with the reason.

    Example:
        >>> err = NodeIsolationError("gpu-7", "strict", ["seccomp: libseccomp not found"])
        >>> str(err).split(";")[0]
        "node 'gpu-7' cannot provide isolation 'strict' (seccomp: libseccomp not found)"
    """

    def __init__(self, node: str, level: str, missing: Sequence[str]) -> None:
        IsolationUnavailable.__init__(self, level, missing)
        self.args = (node, level, tuple(missing))
        self.node = node

    def __str__(self) -> str:
        lacks = "; ".join(self.missing)
        return (
            f"node {self.node!r} cannot provide isolation {self.level!r} ({lacks}); the run "
            f"refuses to run weaker there. Run `vlmcar doctor` on {self.node} to see what it "
            "supports and fix it or keep it out of the cluster, or choose a weaker level "
            "explicitly (--isolation process)"
        )


class PartitionError(RLError, RuntimeError):
    """A relabelling partition failed while it ran; every finished partition is kept on disk.

    Attributes:
        index: the partition's index.
        node: where it ran (host name, or ``""`` when unknown).
        detail: what failed.
        parts: the folder that holds the finished partitions.
    """

    def __init__(self, index: int, node: str, detail: str, parts: str) -> None:
        super().__init__(index, node, detail, parts)
        self.index = index
        self.node = node
        self.detail = detail
        self.parts = parts

    def __str__(self) -> str:
        where = f" on node {self.node!r}" if self.node else ""
        return (
            f"partition {self.index}{where} failed: {self.detail}; the finished partitions are "
            f"kept in {self.parts}: fix the cause and rerun with --resume to compute only the rest"
        )


class RelabelInterrupted(KeyboardInterrupt):
    """Ctrl-C during a relabelling run, after the finished partitions were written.

    Attributes:
        finished: partitions on disk (this run's and earlier ones').
        total: partitions of the run.
        parts: the folder that holds them.
    """

    def __init__(self, finished: int, total: int, parts: str) -> None:
        super().__init__(finished, total, parts)
        self.finished = finished
        self.total = total
        self.parts = parts

    def __str__(self) -> str:
        return (
            f"interrupted: {self.finished} of {self.total} partitions are finished and kept in "
            f"{self.parts}; rerun the same command with --resume to compute only the rest"
        )


class UnknownSchemeError(RLError, ValueError):
    """A scheme name that is not in :data:`rl.schemes.SCHEME_CLASSES`.

    Attributes:
        scheme: the name given.
        choices: the registered names (default: :data:`rl.schemes.SCHEMES`).

    Example:
        >>> str(UnknownSchemeError("sparse"))
        "scheme='sparse': choose one of ordered, any_order, potential"
    """

    def __init__(self, scheme: object, choices: tuple[str, ...] | None = None) -> None:
        super().__init__(scheme)
        if choices is None:
            from rl.schemes import SCHEMES  # the registry imports this module, not the reverse

            choices = SCHEMES
        self.scheme = scheme
        self.choices = choices

    def __str__(self) -> str:
        return f"scheme={self.scheme!r}: choose one of {', '.join(self.choices)}"


class RewardDiagnosisWarning(UserWarning):
    """A stall or flooding alarm raised during training (one line: what, where, since when)."""
