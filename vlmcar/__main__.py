"""``python -m vlmcar``: the same command as the ``vlmcar`` console script."""

from __future__ import annotations

import sys

from vlmcar.cli import main

if __name__ == "__main__":
    sys.exit(main())
