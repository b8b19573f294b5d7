"""``vlmcar audit PATH... [--format text|json|sarif] [--verbose] [--rules]``.

Exit 0 when every file is accepted, 1 when any is rejected, 2 on usage errors (missing or
unreadable file). A syntax error is a finding, not a crash.
"""

from __future__ import annotations

import argparse
import sys

from sandbox.audit import audit
from sandbox.diagnostics import FORMATTERS, AuditReport, format_text
from sandbox.errors import FileRefused
from sandbox.rules import rules_markdown
from sandbox.safeio import read_text

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``audit`` arguments to ``parser``."""
    parser.add_argument("paths", nargs="*", metavar="PATH", help="checker source files")
    parser.add_argument("--format", choices=sorted(FORMATTERS), default="text")
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="text format: show the rule name, source line, caret and help",
    )
    parser.add_argument("--entry", default="check", help="entry function name (default: check)")
    parser.add_argument("--rules", action="store_true", help="print the rule table (Markdown)")


def run(args: argparse.Namespace) -> int:
    """Audit every path and print the findings; return the exit code."""
    if args.rules:
        sys.stdout.write(rules_markdown())
        return 0
    if not args.paths:
        print("vlmcar audit: error: give at least one PATH (or --rules)", file=sys.stderr)
        return 2
    reports: list[AuditReport] = []
    for raw in args.paths:
        try:
            source = read_text(raw, kind="checker")
        except FileRefused as err:  # no such file, a FIFO or device, too large, not UTF-8
            print(f"vlmcar audit: error: {err}", file=sys.stderr)
            return 2
        reports.append(audit(source, path=raw, entry=args.entry))
    if args.format == "text":
        format_text(reports, sys.stdout, verbose=args.verbose)
    else:
        FORMATTERS[args.format](reports, sys.stdout)
    return 0 if all(r.ok for r in reports) else 1
