"""The first-use table, run against the real ``vlmcar`` command in subprocesses.

Each row is one bad input a new user tried (``../shared/research/first-use.md``): the exit code the
README documents and a fragment the message must contain; no row may print a traceback. Almost
every row must be refused before any work (argument validation, input files), so the table runs in
about a minute; the rows that need a sandbox worker are marked in their ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vlmcar.cli import EXIT_CODES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEMO_REPLAY = ROOT / "synth" / "data" / "demo_replay.json"
ENV = "MiniGrid-DoorKey-5x5-v0"


def vlmcar_command() -> list[str]:
    script = Path(sys.executable).with_name("vlmcar")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vlmcar.cli"]


def run_vlmcar(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*vlmcar_command(), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("first-use")
    sources = {
        "ok.py": "def check(frame):\n    return bool(frame.mean() > 100)\n",
        "needs_first.py": "def check(frame, first):\n    return changed_fraction(frame, first, 5) > 0.3\n",
        "syntax.py": "def check(frame)\n    return True\n",
        "raises.py": "def check(frame):\n    return bool(1 // (int(frame[0, 0, 0]) * 0))\n",
        "const.py": "def check(frame):\n    return True\n",
    }
    for name, text in sources.items():
        (d / name).write_text(text, encoding="utf-8")
    rng = np.random.default_rng(0)
    np.save(d / "frames.npy", rng.integers(0, 256, (12, 40, 40, 3), dtype=np.uint8))
    np.save(d / "small.npy", rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    np.save(d / "first.npy", np.zeros((40, 40, 3), np.uint8))
    np.save(d / "f32.npy", np.zeros((12, 40, 40, 3), np.float32))
    np.save(d / "empty.npy", np.zeros((0, 40, 40, 3), np.uint8))
    (d / "afile").write_text("not a directory\n")
    (d / "adir").mkdir()
    (d / "bad.json").write_text("{not json")
    fake = d / "fake_bundle"
    fake.mkdir()
    (fake / "program.json").write_text("{}")
    names = [*sources, "frames.npy", "small.npy", "first.npy", "f32.npy", "empty.npy"]
    out = {Path(n).stem: str(d / n) for n in [*names, "afile", "adir"]}
    out |= {"bad_json": str(d / "bad.json"), "fake_bundle": str(fake), "tmp": str(d)}
    out["manifest"] = str(fake / "program.json")
    return out


@dataclass(frozen=True)
class Case:
    """One row: argv (with {name} placeholders for the fixture files), exit code, message."""

    id: str
    argv: tuple[str, ...]
    code: int
    says: str
    never: str = ""  # a fragment that would be misleading here
    unset: tuple[str, ...] = ()  # environment variables removed for this row


CASES = [
    # top level
    Case("no-command", (), 2, "usage: vlmcar"),
    Case("unknown-command", ("nope",), 2, "invalid choice"),
    # audit
    Case("audit-missing", ("audit", "{tmp}/nope.py"), 2, "no such file"),
    Case("audit-directory", ("audit", "{adir}"), 2, "is a directory"),
    Case("audit-no-paths", ("audit",), 2, "at least one PATH"),
    Case("audit-syntax", ("audit", "{syntax}"), 1, "S101"),
    # check
    Case(
        "check-missing-checker",
        ("check", "{tmp}/nope.py", "--frames", "{frames}"),
        2,
        "no such file",
    ),
    Case(
        "check-directory-checker",
        ("check", "{adir}", "--frames", "{frames}"),
        2,
        "is a directory",
    ),
    Case(
        "check-missing-frames",
        ("check", "{ok}", "--frames", "{tmp}/nope.npy"),
        2,
        "no such file",
    ),
    Case("check-directory-frames", ("check", "{ok}", "--frames", "{adir}"), 2, "is a directory"),
    Case(
        "check-py-as-frames",
        ("check", "{ok}", "--frames", "{ok}"),
        2,
        "not a .npy file",
        never="pickle",
    ),
    Case("check-float-frames", ("check", "{ok}", "--frames", "{f32}"), 2, "uint8"),
    Case(
        "check-timeout-0",
        ("check", "{ok}", "--frames", "{frames}", "--timeout", "0"),
        2,
        "--timeout: must be a finite number > 0",
    ),
    Case(
        "check-timeout-negative",
        ("check", "{ok}", "--frames", "{frames}", "--timeout", "-1"),
        2,
        "--timeout",
    ),
    Case(
        "check-timeout-nan",
        ("check", "{ok}", "--frames", "{frames}", "--timeout", "nan"),
        2,
        "--timeout",
    ),
    Case(
        "check-entry-not-a-name",
        ("check", "{ok}", "--frames", "{frames}", "--entry", "no such"),
        2,
        "Python function name",
    ),
    Case(
        "check-two-arg-without-first",
        ("check", "{needs_first}", "--frames", "{frames}"),
        2,
        "--first FIRST.npy",
    ),
    Case("check-syntax", ("check", "{syntax}", "--frames", "{frames}"), 1, "S101"),
    Case(
        "check-raises-worker",
        ("check", "{raises}", "--frames", "{frames}"),
        3,
        "ZeroDivisionError",
    ),
    # fuzz
    Case(
        "fuzz-examples-0",
        ("fuzz", "--examples", "0", "{ok}"),
        2,
        "--examples: must be an integer >= 1",
    ),
    Case("fuzz-missing", ("fuzz", "{tmp}/nope.py"), 2, "no such file"),
    Case("fuzz-directory", ("fuzz", "{adir}"), 2, "is a directory"),
    Case(
        "fuzz-two-arg-without-first",
        ("fuzz", "{ok}", "{needs_first}"),
        2,
        "--first FIRST.npy",
    ),
    Case("fuzz-empty-frames", ("fuzz", "{ok}", "--frames", "{empty}"), 2, "holds no frames"),
    Case(
        "fuzz-first-size-differs",
        ("fuzz", "{needs_first}", "--frames", "{small}", "--first", "{first}"),
        2,
        "one size",
    ),
    Case("fuzz-constant-worker", ("fuzz", "{const}", "--examples", "5"), 1, "constant"),
    # synth
    Case(
        "synth-missing-replay",
        ("synth", "--env", ENV, "--replay", "{tmp}/nope.json", "--out", "{tmp}/b"),
        2,
        "no such file",
    ),
    Case(
        "synth-out-is-a-file",
        ("synth", "--env", ENV, "--replay", str(DEMO_REPLAY), "--out", "{afile}"),
        2,
        "is an existing file and is not a directory",
    ),
    Case(
        "synth-rounds-0",
        ("synth", "--env", ENV, "--replay", str(DEMO_REPLAY), "--out", "{tmp}/b", "--rounds", "0"),
        2,
        "--rounds",
    ),
    Case(
        "synth-fuzz-examples-0",
        (
            "synth",
            "--env",
            ENV,
            "--replay",
            str(DEMO_REPLAY),
            "--out",
            "{tmp}/b",
            "--fuzz-examples",
            "0",
        ),
        2,
        "--fuzz-examples",
    ),
    Case(
        "synth-corrupt-replay",
        ("synth", "--env", ENV, "--replay", "{bad_json}", "--out", "{tmp}/b"),
        2,
        "bad.json",
    ),
    Case(
        "synth-unknown-env",
        (
            "synth",
            "--env",
            "MiniGrid-DoorKey-5x5-v9",
            "--replay",
            str(DEMO_REPLAY),
            "--out",
            "{tmp}/b",
        ),
        2,
        "MiniGrid-DoorKey-5x5-v0",
    ),
    Case(
        "synth-no-api-key",
        ("synth", "--env", ENV, "--model", "openai/gpt-4o", "--out", "{tmp}/b"),
        2,
        "OPENAI_API_KEY",
        never="transient",
        unset=("OPENAI_API_KEY",),
    ),
    # verify
    Case("verify-missing", ("verify", "{tmp}/nope"), 2, "no such directory"),
    Case("verify-manifest-file", ("verify", "{manifest}"), 2, "give the directory that holds it"),
    Case("verify-not-a-bundle", ("verify", "{adir}"), 2, "holds no program.json"),
    Case(
        "verify-expert-0",
        ("verify", "{fake_bundle}", "--expert", "0"),
        2,
        "--expert: must be an integer >= 1",
    ),
    Case(
        "verify-random-length-0",
        ("verify", "{fake_bundle}", "--random-length", "0"),
        2,
        "--random-length",
    ),
    # train
    Case(
        "train-unknown-env",
        ("train", "--env", "MiniGrid-DoorKey-5x5-v9", "--timesteps", "10"),
        2,
        "MiniGrid-DoorKey-5x5-v0",
    ),
    Case("train-timesteps-0", ("train", "--env", ENV, "--timesteps", "0"), 2, "--timesteps"),
    # bench
    Case(
        "bench-json-directory",
        ("bench", "--quick", "--json", "{adir}"),
        2,
        "is a directory; give a file name",
    ),
    Case(
        "bench-out-dir-file",
        ("bench", "--quick", "--out-dir", "{afile}"),
        2,
        "is an existing file and is not a directory",
    ),
    # demo
    Case(
        "demo-out-is-a-file",
        ("demo", "--out", "{afile}"),
        2,
        "is an existing file and is not a directory",
    ),
    Case("demo-timesteps-0", ("demo", "--timesteps", "0"), 2, "--timesteps"),
    Case("demo-seeds-0", ("demo", "--seeds", "0"), 2, "--seeds"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_first_use_table(case: Case, files: dict[str, str]) -> None:
    argv = [a.format(**files) for a in case.argv]
    env = {k: v for k, v in os.environ.items() if k not in case.unset}
    env.pop("VLMCAR_DEBUG", None)
    done = run_vlmcar(*argv, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == case.code, output
    assert case.code in EXIT_CODES
    assert case.says in output, output
    assert "Traceback" not in output, output
    if case.never:
        assert case.never not in output, output
    if case.code == 2 and case.id != "no-command":  # refused before any work: nothing written
        assert not (Path(files["tmp"]) / "b").exists()


def test_readme_recording_replays_with_the_documented_command(tmp_path: Path) -> None:
    """The README's own recording replays with `vlmcar synth`'s defaults, and usage is reported."""
    out = tmp_path / "bundle"
    done = run_vlmcar("synth", "--env", ENV, "--replay", str(DEMO_REPLAY), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "call 1 decompose (scripted-demo-vlm): 0 + 0 tokens, $0.0000" in done.stdout
    assert "6 model call(s) (6 replayed, not billed)" in done.stdout
    manifest = json.loads((out / "program.json").read_text())
    usage = manifest["extra"]["usage"]
    assert [c["purpose"] for c in usage["calls"]][:2] == ["decompose", "checker:key_picked"]
    assert usage["totals"]["calls"] == 6 and usage["totals"]["billed_usd"] == 0.0
    assert all("seconds" not in c for c in usage["calls"])  # program.json stays reproducible
    timed = json.loads((out / "usage.json").read_text())
    assert all(c["seconds"] >= 0 for c in timed["calls"]) and len(timed["calls"]) == 6


def test_ctrl_c_exits_130_without_a_traceback(files: dict[str, str]) -> None:
    """SIGINT while a checker runs in a worker: exit 130, one line, no traceback."""
    # One `==` over two self-sharing lists of 2**64 leaves: a single C call that no budget can
    # interrupt, so the worker is still busy when SIGINT comes, however fast this machine is (a
    # Python loop ran into its iteration budget before the signal on an idle machine).
    loop = Path(files["tmp"]) / "slow.py"
    loop.write_text(
        "def check(frame):\n    a = [0]\n    b = [0]\n    for _ in range(64):\n"
        "        a = [a, a]\n        b = [b, b]\n    return a == b\n"
    )
    proc = subprocess.Popen(
        [*vlmcar_command(), "check", str(loop), "--frames", files["frames"], "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # as from a terminal: a test run started in the background of a non-interactive shell
        # passes SIGINT down ignored, and Python then never installs its Ctrl-C handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    time.sleep(4)  # past start-up: the command is waiting on the worker
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in out + err


def test_python_dash_m_runs_the_same_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "vlmcar", "audit", "--rules"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "M204" in done.stdout and "Traceback" not in done.stderr
