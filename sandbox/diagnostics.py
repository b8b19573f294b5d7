"""Audit findings and the formatters that print them.

Provides:
    Severity: the closed set of finding severities.
    Finding: one immutable audit finding (rule code and name, message, hint, 1-based position).
    AuditReport: the findings for one source, with ``ok`` when there are none of severity ``error``.
    char_column: convert an ``ast`` column (0-based UTF-8 byte offset) into a 1-based character column.
    rule_url: the documentation link of a rule code (relative: ``docs/rules.md#<code>``).
    format_text, format_json, format_sarif: formatters ``(reports, stream) -> None`` chosen by name
        through :data:`FORMATTERS`.

Text is ``path:line:col: CODE message`` (flake8 style); the verbose form adds the rule name, the source
line with a caret and the hint. JSON is a list of objects with stable keys sorted by path, line and
column. SARIF is version 2.1.0 with one run, one rule entry per rule code and 1-based regions (GitHub
code scanning refuses column 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TextIO

__all__ = [
    "FORMATTERS",
    "AuditReport",
    "Finding",
    "Severity",
    "char_column",
    "format_json",
    "format_sarif",
    "format_text",
    "rule_url",
]

Severity = Literal["error", "warning"]

#: Where each rule's documentation lives: a path relative to the repository root with the stable
#: anchor of the code in the generated rule table (``vlmcar audit --rules`` prints the same text).
#: Relative, because the project names no public home; a link is never invented.
RULES_URL = "docs/rules.md#{anchor}"


def rule_url(code: str) -> str:
    """The documentation link of a rule code, e.g. ``docs/rules.md#a502``.

    Example:
        >>> rule_url("A502")
        'docs/rules.md#a502'
    """
    return RULES_URL.format(anchor=code.lower())


@dataclass(frozen=True, order=True)
class Finding:
    """One audit finding.

    Positions are 1-based; ``col``/``end_col`` count characters, not bytes.

    Attributes:
        path: the file (or label) the source came from.
        line: first line of the flagged code.
        col: first column of the flagged code.
        code: rule code such as ``A502``.
        name: rule name such as ``unknown-name``.
        message: what was found, naming the offending identifier or value.
        hint: what to write instead.
        end_line: last line of the flagged code.
        end_col: column just past the flagged code.
        severity: ``error`` rejects the checker; ``warning`` is reported only.

    Example:
        >>> f = Finding("c.py", 3, 5, "A502", "unknown-name", "name 'open' is not available", "")
        >>> f.format_text()
        "c.py:3:5: A502 name 'open' is not available"
    """

    path: str
    line: int
    col: int
    code: str
    name: str
    message: str
    hint: str = ""
    end_line: int = 0
    end_col: int = 0
    severity: Severity = "error"

    def format_text(self) -> str:
        """Return the one-line form ``path:line:col: CODE message``."""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"

    def format_verbose(self, source_line: str | None) -> str:
        """Return the multi-line form with rule name, source line, caret and hint.

        Args:
            source_line: the text of line ``self.line`` of the source, if available.

        Returns:
            The finding as several lines of text, without a trailing newline.
        """
        out = [f"{self.format_text()} ({self.name})"]
        if source_line is not None:
            gutter = f"{self.line:>4} | "
            out.append(gutter + source_line.rstrip("\n"))
            width = max(1, (self.end_col - self.col) if self.end_line == self.line else 1)
            out.append(" " * (len(gutter) + self.col - 1) + "^" * width)
        if self.hint:
            out.append(f"  help: {self.hint}")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready dict with stable keys."""
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "hint": self.hint,
            "severity": self.severity,
            "filename": self.path,
            "location": {"row": self.line, "column": self.col},
            "end_location": {"row": self.end_line or self.line, "column": self.end_col or self.col},
            "url": rule_url(self.code),
        }


@dataclass(frozen=True)
class AuditReport:
    """The result of auditing one source.

    Attributes:
        path: the file (or label) the source came from.
        findings: every finding, sorted by position.
        source: the audited text (kept for verbose output and for compiling after an accepted audit).

    Example:
        >>> AuditReport("c.py", ()).ok
        True
    """

    path: str
    findings: tuple[Finding, ...]
    source: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        """True when no finding has severity ``error``."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def codes(self) -> tuple[str, ...]:
        """The rule codes of the findings, in order (handy in tests)."""
        return tuple(f.code for f in self.findings)


def char_column(line_text: str, byte_offset: int) -> int:
    """Convert a 0-based UTF-8 byte offset within ``line_text`` into a 1-based character column.

    Args:
        line_text: the text of the source line.
        byte_offset: ``ast`` ``col_offset`` / ``end_col_offset`` for that line.

    Returns:
        The 1-based column counted in characters.

    Example:
        >>> char_column("x = 'é' + y", 10)
        10
        >>> char_column("abc", 0)
        1
    """
    prefix = line_text.encode("utf-8")[: max(0, byte_offset)]
    return len(prefix.decode("utf-8", errors="ignore")) + 1


def _all_findings(reports: Iterable[AuditReport]) -> list[Finding]:
    return sorted(f for r in reports for f in r.findings)


def format_text(reports: Sequence[AuditReport], stream: TextIO, *, verbose: bool = False) -> None:
    """Write findings as ``path:line:col: CODE message`` lines, then a one-line summary.

    Args:
        reports: the audit reports to print.
        stream: where to write.
        verbose: add the rule name, the source line with a caret and the hint.
    """
    lines_by_path = {r.path: r.source.splitlines() for r in reports}
    for f in _all_findings(reports):
        if verbose:
            lines = lines_by_path.get(f.path, [])
            text = lines[f.line - 1] if 0 < f.line <= len(lines) else None
            stream.write(f.format_verbose(text) + "\n")
        else:
            stream.write(f.format_text() + "\n")
    rejected = sum(not r.ok for r in reports)
    n = sum(len(r.findings) for r in reports)
    stream.write(
        f"{len(reports)} file(s) audited: {len(reports) - rejected} accepted, "
        f"{rejected} rejected, {n} finding(s)\n"
    )


def format_json(reports: Sequence[AuditReport], stream: TextIO) -> None:
    """Write every finding as a JSON list sorted by path, line and column.

    Args:
        reports: the audit reports to print.
        stream: where to write.
    """
    json.dump([f.to_json() for f in _all_findings(reports)], stream, indent=2)
    stream.write("\n")


def format_sarif(reports: Sequence[AuditReport], stream: TextIO) -> None:
    """Write a SARIF 2.1.0 log with one run, the rules that fired and one result per finding.

    Args:
        reports: the audit reports to print.
        stream: where to write.
    """
    from sandbox import __version__
    from sandbox.rules import RULES

    findings = _all_findings(reports)
    fired = sorted({f.code for f in findings})
    rules = [
        {
            "id": code,
            "name": RULES[code].name,
            "shortDescription": {"text": RULES[code].summary},
            "fullDescription": {"text": RULES[code].why},
            "help": {
                "text": f"{RULES[code].instead} See {rule_url(code)}.",
                "markdown": f"{RULES[code].instead} See [{code}]({rule_url(code)}).",
            },
            "defaultConfiguration": {"level": "error"},
        }
        for code in fired
    ]
    index = {code: i for i, code in enumerate(fired)}
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": f.message + (f" Help: {f.hint}" if f.hint else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.lstrip("./") or f.path},
                        "region": {
                            "startLine": max(1, f.line),
                            "startColumn": max(1, f.col),
                            "endLine": max(1, f.end_line or f.line),
                            "endColumn": max(1, f.end_col or f.col),
                        },
                    }
                }
            ],
        }
        for f in findings
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "vlmcar-audit",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    json.dump(log, stream, indent=2)
    stream.write("\n")


#: Formatter by name, as ``vlmcar audit --format`` chooses them.
FORMATTERS: Mapping[str, Callable[[Sequence[AuditReport], TextIO], None]] = MappingProxyType(
    {"text": format_text, "json": format_json, "sarif": format_sarif}
)
