"""The one error-to-exit-code mapping of ``vlmcar`` (vlmcar/cli.py) and the argument validators."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import pytest

from vlmcar import cli
from vlmcar.args import (
    existing_dir,
    existing_file,
    identifier,
    non_negative_int,
    output_dir,
    output_file,
    positive_float,
    positive_int,
    program_dir,
    unknown_choice,
)


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = dict(cli.COMMANDS) | {"boom": ("tests.vlmcar.boom_command", "fails on purpose")}
    monkeypatch.setattr(cli, "COMMANDS", MappingProxyType(commands))


@pytest.mark.parametrize(
    ("how", "code", "says"),
    [
        ("usage", 2, "vlmcar boom: error: --thing must be given twice"),
        ("frames", 2, "vlmcar boom: error: --frames: expected (N, H, W, 3)"),
        ("oserror", 2, "Permission denied"),
        ("interrupt", 130, "vlmcar boom: interrupted"),
        ("bug", 4, "internal error: KeyError"),
    ],
)
def test_errors_map_to_documented_codes_without_traceback(
    boom: None,
    how: str,
    code: int,
    says: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.main(["boom", how]) == code
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert code in cli.EXIT_CODES


def test_internal_error_says_how_to_report_and_debug_shows_the_traceback(
    boom: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.main(["boom", "bug"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "This is a bug in vlm-car" in err and f"{cli.DEBUG_ENV}=1 vlmcar boom" in err
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.main(["boom", "bug"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "boom_command.py" in err


def test_argparse_exits_are_returned_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert cli.main(["audit", "--help"]) == 0
    assert cli.main(["fuzz", "--examples", "zero", "x.py"]) == 2
    assert "--examples: must be an integer >= 1, got 'zero'" in capsys.readouterr().err


def test_every_table_entry_names_a_real_exception_class() -> None:
    import importlib

    for module, name, code in cli.ERROR_EXIT_CODES:
        cls = getattr(importlib.import_module(module), name)
        assert isinstance(cls, type) and issubclass(cls, BaseException), (module, name)
        assert code in cli.EXIT_CODES


def test_specific_classes_win_over_their_bases() -> None:
    from sandbox.errors import FileRefused, SandboxError, WorkerError
    from synth.errors import CredentialsError, ReplayMiss, SynthError

    assert cli.exit_code_for(FileRefused("f", "too large", "use a smaller file")) == 2
    assert cli.exit_code_for(CredentialsError("gpt-4o", ("OPENAI_API_KEY",))) == 2
    assert cli.exit_code_for(ReplayMiss("k" * 64, "store.json")) == 3
    assert cli.exit_code_for(SynthError("no usable decomposition")) == 1
    assert issubclass(WorkerError, SandboxError)
    assert cli.exit_code_for(WorkerError("worker died")) == 3
    assert cli.exit_code_for(KeyboardInterrupt()) == 130


BAD: list[tuple[Callable[[str], object], str, str]] = [
    (positive_int, "0", ">= 1"),
    (positive_int, "-3", ">= 1"),
    (positive_int, "1.5", ">= 1"),
    (positive_int, "", ">= 1"),
    (non_negative_int, "-1", ">= 0"),
    (positive_float, "0", "> 0"),
    (positive_float, "-0.5", "> 0"),
    (positive_float, "inf", "> 0"),
    (positive_float, "nan", "> 0"),
    (positive_float, "five", "> 0"),
    (identifier, "my check", "function name"),
    (identifier, "1st", "function name"),
    (existing_file, "{tmp}/missing.py", "no such file"),
    (existing_file, "{tmp}", "is a directory"),
    (existing_file, "/dev/null", "is a device"),
    (existing_file, "{file}/below", "is a file, not a directory"),
    (existing_dir, "{file}", "is a file"),
    (existing_dir, "{tmp}/missing", "no such directory"),
    (output_dir, "{file}", "is an existing file and is not a directory"),
    (output_dir, "{file}/sub/dir", "is a file, not a directory"),
    (output_file, "{tmp}", "is a directory"),
    (output_file, "/dev/null", "not a file"),
    (output_file, "{file}/x.json", "is a file, not a directory"),
    (program_dir, "{tmp}", "holds no program.json"),
    (program_dir, "{file}", "is a file"),
]


@pytest.mark.parametrize(
    ("validator", "text", "says"), BAD, ids=lambda v: getattr(v, "__name__", v)
)
def test_validators_refuse_with_a_message(
    validator: Callable[[str], object], text: str, says: str, tmp_path: Path
) -> None:
    file = tmp_path / "a.txt"
    file.write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match=None) as caught:
        validator(text.format(tmp=tmp_path, file=file))
    assert says in str(caught.value)


def test_validators_accept_good_values(tmp_path: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text("x")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "program.json").write_text("{}")
    assert positive_int("7") == 7 and non_negative_int("0") == 0
    assert positive_float("1e-3") == 0.001 and identifier("check") == "check"
    assert existing_file(str(file)) == str(file) and existing_dir(str(tmp_path)) == str(tmp_path)
    assert output_dir(str(tmp_path / "new" / "dir")) == str(tmp_path / "new" / "dir")
    assert output_file(str(file)) == str(file)  # an existing file is replaced
    assert program_dir(str(tmp_path / "bundle")) == str(tmp_path / "bundle")
    assert not (tmp_path / "new").exists()  # validators never create anything


def test_unknown_choice_suggests_close_matches() -> None:
    ids = ["MiniGrid-DoorKey-5x5-v0", "MiniGrid-DoorKey-6x6-v0", "PandaPush-v3"]
    text = unknown_choice("environment", "MiniGrid-DoorKey-5x5-v9", ids)
    assert "did you mean MiniGrid-DoorKey-5x5-v0" in text and "PandaPush-v3" in text
    assert "did you mean" not in unknown_choice("environment", "zzzz", ids)
