"""Bundles and reward-program directories on disk (synth/bundle.py, rl/program.py).

Hostile or malformed manifests and checker files are refused by ``load_bundle`` with a
:class:`ProgramError`, and by ``vlmcar verify`` and ``vlmcar train`` with exit code 2 and the
problem on stderr, before any rollout or training. Signing: the sha256s in ``program.json`` only
detect accidents (a checker edited together with its hash loads without a key); with a key, such a
bundle is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rl.program import (
    KEY_ENV,
    SIGNATURE_FILE,
    Key,
    ProgramError,
    RewardProgram,
    SubTask,
    read_key,
    save_program,
    sign_program,
)
from synth.bundle import BUNDLE_SCHEMA, load_bundle
from tests.sandbox.test_safeio import run_cli
from vlmcar.cli import main

ENV = "MiniGrid-DoorKey-5x5-v0"
KEY = b"0123456789abcdef0123456789abcdef"
OTHER_KEY = b"fedcba9876543210fedcba9876543210"
BRIGHT = "def check(frame):\n    return bool(frame.mean() > 100)\n"
DARK = "def check(frame):\n    return bool(frame.mean() < 20)\n"
EVIL = "def check(frame):\n    return True\n"


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def program(**extra: Any) -> RewardProgram:
    return RewardProgram(
        env_id=ENV,
        task="test program",
        subtasks=(SubTask("bright", "mean > 100", BRIGHT), SubTask("dark", "mean < 20", DARK)),
        extra={"bundle_schema": BUNDLE_SCHEMA, "model": "scripted", **extra},
    )


def bundle(tmp_path: Path, key: Key = None, **extra: Any) -> Path:
    directory = tmp_path / "bundle"
    save_program(program(**extra), directory, key=key)
    return directory


def edit_manifest(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = directory / "program.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def replace_checker_and_hash(directory: Path, name: str, source: str) -> None:
    """What an attacker with write access does: change a checker and its hash together."""
    (directory / f"{name}.py").write_text(source, encoding="utf-8")

    def edit(data: dict[str, Any]) -> None:
        for item in data["subtasks"]:
            if item["name"] == name:
                item["sha256"] = hashlib.sha256(source.encode()).hexdigest()

    edit_manifest(directory, edit)


def test_round_trip_without_a_key_writes_no_signature(tmp_path: Path) -> None:
    directory = bundle(tmp_path)
    assert not (directory / SIGNATURE_FILE).exists()
    loaded, provenance = load_bundle(directory)
    assert loaded.names == ("bright", "dark") and loaded.sources == (BRIGHT, DARK)
    assert provenance["model"] == "scripted" and loaded.bonus == 1.0


# --------------------------------------------------------------------------------------------
# Malformed and hostile manifests: name -> (edit of the bundle directory, fragment)
# --------------------------------------------------------------------------------------------


def _field(name: str, value: object) -> Callable[[Path], None]:
    return lambda d: edit_manifest(d, lambda m: m.__setitem__(name, value))


def _subtask(name: str, value: object) -> Callable[[Path], None]:
    return lambda d: edit_manifest(d, lambda m: m["subtasks"][0].__setitem__(name, value))


def _text(old: str, new: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        path = d / "program.json"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def _sparse(name: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        (d / name).unlink()
        with (d / name).open("wb") as fh:
            fh.truncate(3 << 30)

    return edit


def _symlinked_checker(d: Path) -> None:
    outside = d.parent / "outside.py"
    outside.write_text(BRIGHT, encoding="utf-8")
    (d / "bright.py").unlink()
    (d / "bright.py").symlink_to(outside)


def _manifest_is_a_list(d: Path) -> None:
    (d / "program.json").write_text("[]", encoding="utf-8")


def _drop_sha256(d: Path) -> None:
    edit_manifest(d, lambda m: m["subtasks"][1].pop("sha256"))


def _directory_checker(d: Path) -> None:
    (d / "dark.py").unlink()
    (d / "dark.py").mkdir()


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "bonus_nan": (_text('"bonus": 1.0', '"bonus": NaN'), "holds NaN"),
    "bonus_infinity": (_text('"bonus": 1.0', '"bonus": Infinity'), "holds Infinity"),
    "bonus_overflow": (_text('"bonus": 1.0', '"bonus": 1e999'), "too large for a float"),
    "bonus_string": (_field("bonus", "1.0"), "bonus must be a finite number"),
    "bonus_bool": (_field("bonus", True), "bonus must be a finite number"),
    "gamma_out_of_range": (_field("gamma", 2.0), "gamma must be a finite number in [0, 1]"),
    "schema_huge_int": (_text('"schema": 1', '"schema": ' + "1" * 5000), "5,000 digits"),
    "schema_other": (_field("schema", 2), "schema 2 (integer) is not supported"),
    "deep_extra": (_text('"extra": {', '"extra": {"x": ' + "[" * 500 + "]" * 500 + ","), "nested"),
    "duplicate_key": (_text('"bonus": 1.0', '"bonus": 1.0, "bonus": 5.0'), "'bonus' twice"),
    "unknown_key": (_field("reward_hack", 1), "unknown key(s) 'reward_hack'"),
    "manifest_not_an_object": (_manifest_is_a_list, "must be a JSON object"),
    "env_id_missing": (lambda d: edit_manifest(d, lambda m: m.pop("env_id")), "lacks 'env_id'"),
    "subtasks_empty": (_field("subtasks", []), "subtasks must be a non-empty array"),
    "subtask_sha256_missing": (_drop_sha256, "subtasks[1] lacks 'sha256'"),
    "subtask_name_mistyped": (_subtask("name", 7), "subtasks[0].name must be"),
    "subtask_file_escapes": (
        _subtask("file", "../outside.py"),
        "subtasks[0].file must be 'bright.py'",
    ),
    "subtask_sha256_mistyped": (_subtask("sha256", 12), "subtasks[0].sha256 must be 64"),
    "provenance_mistyped": (
        lambda d: edit_manifest(d, lambda m: m["extra"].__setitem__("transcript", "none")),
        "extra.transcript must be an array of objects",
    ),
    "manifest_sparse_3gb": (_sparse("program.json"), "3,221,225,472 bytes"),
    "checker_sparse_3gb": (_sparse("dark.py"), "3,221,225,472 bytes"),
    "checker_symlink": (_symlinked_checker, "symbolic link"),
    "checker_is_a_directory": (_directory_checker, "is a directory"),
    "checker_edited": (
        lambda d: (d / "dark.py").write_text(DARK + "# edited\n", encoding="utf-8"),
        "does not match the manifest",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_load_bundle_refuses_malformed_or_hostile_files(case: str, tmp_path: Path) -> None:
    edit, fragment = MALFORMED[case]
    directory = bundle(tmp_path)
    edit(directory)
    with pytest.raises(ProgramError, match=re.escape(fragment)):
        load_bundle(directory)


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "verify": lambda d, out: ["verify", str(d), "--expert", "1", "--random", "1"],
    "train": lambda d, out: [
        "train",
        "--env",
        ENV,
        "--reward",
        str(d),
        "--timesteps",
        "64",
        "--out",
        str(out),
    ],
}
CLI_CASES = ["bonus_nan", "schema_huge_int", "deep_extra", "subtask_sha256_missing"]
CLI_CASES += ["bonus_string", "manifest_sparse_3gb", "checker_symlink", "checker_edited"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_refuses_malformed_programs_with_exit_2(
    command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, fragment = MALFORMED[case]
    directory = bundle(tmp_path)
    edit(directory)
    assert main(COMMANDS[command](directory, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_does_not_hang_on_a_fifo_manifest(command: str, tmp_path: Path) -> None:
    directory = bundle(tmp_path)
    (directory / "program.json").unlink()
    os.mkfifo(directory / "program.json")
    done = run_cli(*COMMANDS[command](directory, tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert "named pipe" in done.stderr and "Traceback" not in done.stderr


def test_reward_program_itself_refuses_non_finite_bonus_and_gamma() -> None:
    sub = (SubTask("bright", "", BRIGHT),)
    with pytest.raises(ValueError, match="bonus=nan"):
        RewardProgram(ENV, "", sub, bonus=float("nan"))
    with pytest.raises(ValueError, match="gamma=inf"):
        RewardProgram(ENV, "", sub, gamma=float("inf"))
    with pytest.raises(ProgramError, match="cannot write the manifest"):
        save_program(RewardProgram(ENV, "", sub, extra={"x": float("nan")}), "/nonexistent/b")


# --------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------


def test_checker_and_hash_edited_together_loads_without_a_key_and_is_refused_with_one(
    tmp_path: Path,
) -> None:
    directory = bundle(tmp_path, key=KEY)
    assert (directory / SIGNATURE_FILE).exists()
    assert load_bundle(directory, key=KEY)[0].sources == (BRIGHT, DARK)
    replace_checker_and_hash(directory, "bright", EVIL)
    # The hash alone only detects accidents: the consistent edit loads when no key is configured.
    assert load_bundle(directory, key=None)[0].sources == (EVIL, DARK)
    assert load_bundle(directory)[0].sources == (EVIL, DARK)  # no VLMCAR_BUNDLE_KEY set
    with pytest.raises(ProgramError, match="signature does not match the program"):
        load_bundle(directory, key=KEY)


def test_a_manifest_only_edit_is_refused_with_a_key(tmp_path: Path) -> None:
    directory = bundle(tmp_path, key=KEY)
    edit_manifest(directory, lambda m: m.__setitem__("bonus", 100.0))
    assert load_bundle(directory, key=None)[0].bonus == 100.0
    with pytest.raises(ProgramError, match="signature does not match"):
        load_bundle(directory, key=KEY)


def test_reindenting_the_manifest_keeps_the_signature(tmp_path: Path) -> None:
    directory = bundle(tmp_path, key=KEY)
    data = json.loads((directory / "program.json").read_text(encoding="utf-8"))
    (directory / "program.json").write_text(json.dumps(data), encoding="utf-8")
    assert load_bundle(directory, key=KEY)[0].names == ("bright", "dark")


def test_unsigned_and_wrongly_signed_bundles_are_refused_with_a_key(tmp_path: Path) -> None:
    unsigned = bundle(tmp_path)
    with pytest.raises(ProgramError, match="is not signed"):
        load_bundle(unsigned, key=KEY)
    sign_program(unsigned, OTHER_KEY)
    with pytest.raises(ProgramError, match="signed with another key"):
        load_bundle(unsigned, key=KEY)
    (unsigned / SIGNATURE_FILE).write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ProgramError, match="not a vlm-car-program-signature"):
        load_bundle(unsigned, key=KEY)
    (unsigned / SIGNATURE_FILE).write_text("[" * 1000, encoding="utf-8")
    with pytest.raises(ProgramError, match="unusable signature file"):
        load_bundle(unsigned, key=KEY)


def test_sign_program_signs_only_a_program_that_loads(tmp_path: Path) -> None:
    directory = bundle(tmp_path)
    (directory / "dark.py").write_text(DARK + "# edited\n", encoding="utf-8")
    with pytest.raises(ProgramError, match="does not match the manifest"):
        sign_program(directory, KEY)
    assert not (directory / SIGNATURE_FILE).exists()


def test_rewriting_without_a_key_removes_a_stale_signature(tmp_path: Path) -> None:
    directory = bundle(tmp_path, key=KEY)
    save_program(program(), directory, key=None)
    assert not (directory / SIGNATURE_FILE).exists()


def test_the_key_comes_from_the_environment_or_a_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_key() is None
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert read_key() == KEY
    directory = bundle(tmp_path, key="env")
    assert (directory / SIGNATURE_FILE).exists()
    replace_checker_and_hash(directory, "dark", EVIL)
    with pytest.raises(ProgramError, match="signature does not match"):
        load_bundle(directory)  # the default key is the environment's
    key_file = tmp_path / "key"
    key_file.write_bytes(OTHER_KEY + b"\n")
    assert read_key(key_file) == OTHER_KEY  # a key file wins over the environment
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ProgramError, match="at least 16"):
        read_key()
    os.mkfifo(tmp_path / "key_pipe")
    with pytest.raises(ProgramError, match="named pipe"):
        read_key(tmp_path / "key_pipe")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_refuses_a_consistently_edited_bundle_when_a_key_is_configured(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    directory = bundle(tmp_path, key=KEY)
    replace_checker_and_hash(directory, "bright", EVIL)
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert main(COMMANDS[command](directory, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "signature does not match the program" in err and "Traceback" not in err


def test_verify_key_file_refuses_an_unsigned_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = bundle(tmp_path)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    assert main(["verify", str(directory), "--key-file", str(key_file)]) == 2
    assert "is not signed" in capsys.readouterr().err
