"""A ``vlmcar`` command module for the exit-code tests: it fails the way its argument says."""

from __future__ import annotations

import argparse

from sandbox.errors import FrameError
from vlmcar.args import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("how", choices=("bug", "usage", "frames", "interrupt", "oserror"))


def run(args: argparse.Namespace) -> int:
    if args.how == "bug":
        return {}["missing"]  # a KeyError: an internal error
    if args.how == "usage":
        raise UsageError("--thing must be given twice")
    if args.how == "frames":
        raise FrameError("--frames", "expected (N, H, W, 3)")
    if args.how == "oserror":
        raise PermissionError(13, "Permission denied", "/root/out.json")
    raise KeyboardInterrupt
