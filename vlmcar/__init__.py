"""The ``vlmcar`` console command: a thin dispatcher over the packages that own each sub-command."""

from vlmcar.cli import COMMANDS, main

__all__ = ["COMMANDS", "main"]
