"""Reward schemes: how latched sub-tasks turn into a bonus, one named class per scheme.

Provides:
    RewardScheme: the base class: ``latch`` (what is latched after a step) and ``pay`` (the bonus).
    Ordered, AnyOrder, Potential: the three built-in schemes (``ordered``, ``any_order``,
        ``potential``).
    SCHEME_CLASSES: scheme name -> class, the one registry (frozen).
    SCHEMES: the scheme names, in the registry's order.
    UnknownSchemeError: a name that is not in the registry (a ``ValueError``; defined in
        :mod:`rl.errors`, re-exported here).
    canonical_scheme: a user's spelling (``any-order``, ``Any_Order``) -> the registered name.
    make_scheme: a registered name -> an instance of its class.

:class:`rl.rewards.RewardComposer` keeps the per-env latch state and delegates both decisions to
the scheme, so adding a scheme is one subclass of :class:`RewardScheme` and one entry in
:data:`SCHEME_CLASSES`. Arrays are vectorised over envs: ``prev``, ``fired`` and the returned
latches are ``(n_envs, K)`` bool, ``terminal`` is ``(n_envs,)`` bool, bonuses are ``(n_envs,)``
float64 (the composer casts them to float32).

Semantics shared by the built-in schemes (one env, one episode; sub-tasks ``0..K-1`` in the
program's order): a sub-task *fires* on a step when its checker returned True on that step's frame
and did not fail; ``prev`` is what was latched before the step. Nothing in a scheme sees the
frames or the env reward, only the flags; the composer resets an env's latches when its episode
ends, after the bonus of the terminal step.

Example:
    >>> import numpy as np
    >>> s = make_scheme(canonical_scheme("any-order"))
    >>> prev = np.array([[False, False]])
    >>> new = s.latch(prev, np.array([[False, True]]))
    >>> new.tolist(), s.pay(prev, new, np.array([False]), bonus=0.5, gamma=0.99).tolist()
    ([[False, True]], [0.5])
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from rl.errors import UnknownSchemeError

__all__ = [
    "SCHEMES",
    "SCHEME_CLASSES",
    "AnyOrder",
    "Ordered",
    "Potential",
    "RewardScheme",
    "UnknownSchemeError",
    "canonical_scheme",
    "make_scheme",
]

#: (n_envs, K) bool: latched / fired sub-tasks per env
Latches = NDArray[np.bool_]
#: (n_envs,) float64: the bonus of one step per env
Bonuses = NDArray[np.float64]


class RewardScheme:
    """One reward scheme: which sub-tasks latch on a step, and what the step pays.

    Subclass it, set :attr:`name` and :attr:`summary`, override :meth:`latch` and/or :meth:`pay`,
    and add the class to :data:`SCHEME_CLASSES`. The defaults are the ``ordered`` scheme's: latch
    the longest prefix of sub-tasks that were latched or fire now, and pay ``bonus`` once per
    sub-task on the step it latches. A scheme holds no per-episode state (the composer does).

    Attributes:
        name: the registered name (what programs and ``--scheme`` say).
        summary: one line, for help texts and reports.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def latch(self, prev: Latches, fired: Latches) -> Latches:
        """Return the latches after a step: a new ``(n_envs, K)`` bool array (``prev`` untouched).

        Args:
            prev: what each env had latched before the step.
            fired: which checkers fired (and did not fail) on each env's new frame.
        """
        return np.logical_and.accumulate(prev | fired, axis=1)

    def pay(
        self,
        prev: Latches,
        new: Latches,
        terminal: NDArray[np.bool_],
        *,
        bonus: float,
        gamma: float,
    ) -> Bonuses:
        """Return the ``(n_envs,)`` float64 bonus of the step that took ``prev`` to ``new``.

        Args:
            prev: latches before the step.
            new: latches after it (:meth:`latch`).
            terminal: envs whose episode ended in a true terminal state on this step (not a
                time-limit truncation).
            bonus: the program's bonus (the scale).
            gamma: the discount (the learner's).
        """
        out: Bonuses = bonus * (new & ~prev).sum(axis=1, dtype=np.float64)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Ordered(RewardScheme):
    """``ordered``: sub-tasks latch in the program's order; ``bonus`` once per sub-task.

    After a step the latched sub-tasks are the longest prefix ``0..j`` in which every sub-task was
    latched before or fires now, so several can latch on one step as long as they fire in order
    (a frame that shows the key gone *and* the door open pays both); a sub-task that fires before
    its predecessors is ignored (it must fire again later). Each pays once per episode (the
    released VLM-CaR code paid 0.5 on every frame after the key was taken; this does not).

    Example:
        >>> import numpy as np
        >>> s, prev = Ordered(), np.array([[True, False, False]])
        >>> s.latch(prev, np.array([[False, False, True]])).tolist()  # 2 before 1: ignored
        [[True, False, False]]
    """

    name = "ordered"
    summary = "sub-tasks latch in order, bonus once per sub-task"


class AnyOrder(RewardScheme):
    """``any_order``: a sub-task latches whenever it fires; ``bonus`` once per sub-task.

    Example:
        >>> import numpy as np
        >>> AnyOrder().latch(np.array([[True, False, False]]), np.array([[False, False, True]]))
        array([[ True, False,  True]])
    """

    name = "any_order"
    summary = "sub-tasks latch whenever they fire, bonus once per sub-task"

    def latch(self, prev: Latches, fired: Latches) -> Latches:
        """Everything that was latched or fires now."""
        return prev | fired


class Potential(RewardScheme):
    """``potential``: ``F = bonus * (gamma * Phi(s') - Phi(s))``, ``Phi`` = ordered latches.

    Latching is :class:`Ordered`'s. ``Phi`` of a *true terminal* next state is 0 (Ng et al. 1999:
    with ``Phi(terminal) = 0`` the discounted sum of ``F`` over an episode telescopes to
    ``-Phi(s_0) = 0``, so the optimal policy is unchanged); the last step of a successful episode
    therefore pays ``-bonus * Phi(s)``. A truncated episode (time limit) is not terminal: the
    learner bootstraps its value from the last observation, so ``Phi(s')`` is kept there.
    ``Phi(s_0) = 0``: a sub-task already true at reset latches on the first step.

    Example:
        >>> import numpy as np
        >>> prev, new = np.array([[False, False]]), np.array([[True, False]])
        >>> Potential().pay(prev, new, np.array([False]), bonus=2.0, gamma=0.5).tolist()
        [1.0]
    """

    name = "potential"
    summary = "potential-based shaping over the ordered latches, policy-invariant"

    def pay(
        self,
        prev: Latches,
        new: Latches,
        terminal: NDArray[np.bool_],
        *,
        bonus: float,
        gamma: float,
    ) -> Bonuses:
        """``bonus * (gamma * Phi(new) - Phi(prev))``, with ``Phi = 0`` on true terminal states."""
        phi_prev = prev.sum(axis=1, dtype=np.float64)
        phi_next = np.where(terminal, 0.0, new.sum(axis=1, dtype=np.float64))
        out: Bonuses = bonus * (gamma * phi_next - phi_prev)
        return out


#: scheme name -> class: the registry (one entry per scheme; frozen, never mutated at run time)
SCHEME_CLASSES: Mapping[str, type[RewardScheme]] = MappingProxyType(
    {cls.name: cls for cls in (Ordered, AnyOrder, Potential)}
)
#: the registered scheme names, in the registry's order
SCHEMES: tuple[str, ...] = tuple(SCHEME_CLASSES)


def canonical_scheme(text: str) -> str:
    """Return the registered name ``text`` spells: case-insensitive, ``-`` for ``_``.

    Example:
        >>> canonical_scheme("any-order"), canonical_scheme("Potential")
        ('any_order', 'potential')

    Raises:
        UnknownSchemeError: no registered scheme has that name.
    """
    if not isinstance(text, str):
        raise UnknownSchemeError(text)
    name = text.strip().lower().replace("-", "_")
    if name not in SCHEME_CLASSES:
        raise UnknownSchemeError(text)
    return name


def make_scheme(name: str) -> RewardScheme:
    """Return an instance of the scheme registered as ``name`` (exact spelling).

    Raises:
        UnknownSchemeError: ``name`` is not registered (see :func:`canonical_scheme` for spellings).
    """
    cls = SCHEME_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnknownSchemeError(name)
    return cls()
