"""Hand-written reference reward programs, built from one source per checker family.

Provides:
    reference_program: the reference program an environment's registry entry declares, built in
        memory from :mod:`rl.programs.reference` and audited like a program loaded from disk.
    write_reference: write it as a program directory (``program.json`` + one ``.py`` per
        sub-task), e.g. to read or edit it: ``python -m rl.programs ENV_ID DIR``.

Which family and parameters an environment uses is part of its entry in
:data:`rl.envs.BUILTIN_SPECS` (``reference``); there are no per-environment copies on disk.
"""

from __future__ import annotations

from pathlib import Path

from rl.program import ProgramError, RewardProgram, save_program

__all__ = ["reference_program", "write_reference"]


def reference_program(env_id: str) -> RewardProgram:
    """Build the reference program of ``env_id`` and audit every checker.

    Raises:
        ProgramError: the environment declares no reference program, or a checker is rejected
            by the current audit.

    Example:
        >>> reference_program("MiniGrid-Unlock-v0").names
        ('key_picked', 'door_open')
    """
    from rl.registry import EnvError, get_spec
    from sandbox import AuditError, audit

    try:
        spec = get_spec(env_id)
    except EnvError as err:
        raise ProgramError(env_id, f"no reference program: {err}") from None
    if spec.reference is None:
        raise ProgramError(
            env_id,
            "no reference program for this environment; use 'sparse' or a synthesised program "
            "(vlmcar synth)",
        )
    program = spec.reference()
    for sub in program.subtasks:
        where = f"<reference {env_id}>/{sub.name}.py"
        report = audit(sub.source, path=where)
        if not report.ok:
            raise ProgramError(where, str(AuditError(where, report.findings)))
    return program


def write_reference(env_id: str, directory: str | Path) -> Path:
    """Write the reference program of ``env_id`` to ``directory``; return the manifest's path.

    Raises:
        ProgramError: as :func:`reference_program`.
    """
    return save_program(reference_program(env_id), directory)
