"""``python -m rl.programs ENV_ID DIR``: write an environment's reference program to ``DIR``."""

from __future__ import annotations

import sys

from rl.program import ProgramError
from rl.programs import write_reference


def main(argv: list[str]) -> int:
    """Write the program; return the exit code (2 on a usage error)."""
    if len(argv) != 2:
        print("usage: python -m rl.programs ENV_ID DIR", file=sys.stderr)
        return 2
    try:
        print(write_reference(argv[0], argv[1]))
    except ProgramError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
