"""Tests for `vlmcar audit` (sandbox/cli_audit.py) and the formatters in sandbox/diagnostics.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import audit
from sandbox.diagnostics import format_json, format_sarif, format_text
from sandbox.rules import rules_markdown
from tests.sandbox.conftest import ATTACKS, BENIGN
from vlmcar.cli import main

GOOD = "import numpy as np\n\ndef check(frame):\n    return bool(np.mean(frame) > 10)\n"
BAD = "import os\n\ndef check(frame):\n    return open('/etc/hostname') is None\n"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(GOOD)
    bad.write_text(BAD)
    return good, bad


def test_exit_codes(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = files
    assert main(["audit", str(good)]) == 0
    assert main(["audit", str(good), str(bad)]) == 1
    assert main(["audit", str(good), str(good.parent / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unreadable_and_undecodable_files_are_usage_errors(tmp_path: Path) -> None:
    blob = tmp_path / "blob.py"
    blob.write_bytes(b"\xff\xfe\x00bad")
    assert main(["audit", str(blob)]) == 2
    assert main(["audit", str(tmp_path)]) == 2  # a directory


def test_no_paths_is_a_usage_error() -> None:
    assert main(["audit"]) == 2


def test_syntax_error_is_a_finding_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "broken.py"
    p.write_text("def check(frame) return True\n")
    assert main(["audit", str(p)]) == 1
    assert f"{p}:1:" in capsys.readouterr().out


def test_text_lines_are_path_line_col_code_message(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, bad = files
    main(["audit", str(bad)])
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == f"{bad}:1:1: I301 import of 'os' is not allowed; checkers may import only numpy (as np) and math"
    )
    assert lines[1].startswith(f"{bad}:4:12: A502 ")
    assert lines[-1].startswith("1 file(s) audited: 0 accepted, 1 rejected")


def test_verbose_text_shows_rule_source_caret_and_help() -> None:
    out = io.StringIO()
    format_text([audit(BAD, path="bad.py")], out, verbose=True)
    text = out.getvalue()
    assert "(unknown-name)" in text
    assert "   4 |     return open('/etc/hostname') is None" in text
    assert "           ^^^^" in text and "help:" in text


def test_json_is_sorted_with_stable_keys(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = files
    assert main(["audit", "--format", "json", str(bad), str(good)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in data] == ["I301", "A502"]
    assert data[0]["location"] == {"row": 1, "column": 1}
    assert data[1]["end_location"] == {"row": 4, "column": 16}
    assert data[0]["url"] == "docs/rules.md#i301"  # a relative link to an anchor that exists
    assert "## I301" in (Path(__file__).parents[2] / "docs" / "rules.md").read_text()


def test_sarif_is_valid_2_1_0_for_code_scanning(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, bad = files
    assert main(["audit", "--format", "sarif", str(bad)]) == 1
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["A502", "I301"]
    assert all({"id", "name", "shortDescription", "help"} <= set(r) for r in rules)
    # SARIF wants absolute URIs there; the project names no public home, so none is invented
    assert not any("helpUri" in r for r in rules)
    assert "docs/rules.md#" in rules[0]["help"]["text"]
    for result in run["results"]:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1  # GitHub rejects 0
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error" and result["message"]["text"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/")


def test_sarif_and_json_for_clean_input() -> None:
    for fmt in (format_json, format_sarif):
        out = io.StringIO()
        fmt([audit(GOOD)], out)
        json.loads(out.getvalue())


def test_public_attack_sample_through_the_cli(tmp_path: Path) -> None:
    paths = []
    for entry in ATTACKS + BENIGN:
        p = tmp_path / f"{entry['id']}.py"
        p.write_text(entry["code"], encoding="utf-8")
        paths.append(p)
    # Benign entries alone: accepted.
    benign = [str(tmp_path / f"{e['id']}.py") for e in BENIGN]
    assert main(["audit", *benign]) == 0
    # Everything: rejected overall; JSON names only attack files.
    out = subprocess.run(
        [sys.executable, "-m", "vlmcar.cli", "audit", "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 1, out.stderr
    flagged = {Path(d["filename"]).stem for d in json.loads(out.stdout)}
    assert not flagged & {e["id"] for e in BENIGN}


def test_rules_doc_is_generated_from_the_table() -> None:
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown()


def test_rules_flag_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--rules"]) == 0
    assert "| [A502](#a502) | `unknown-name` |" in capsys.readouterr().out
