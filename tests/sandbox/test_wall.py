"""The wall comes first: nothing derived from checker source runs before a worker is isolated.

These tests start real worker processes (the same boot as :class:`sandbox.Sandbox`) under a Python
audit hook that records every ``compile`` and ``exec`` of code that comes from the checker (its
restricted module, its generated JIT kernel module) and whether the worker had already applied its
isolation layers at that moment. A control run compiles the checker before the wall on purpose, to
show that the detector sees it. Then: no shared-memory segment is ever left behind (there is none
to leave), workers die with their parent, a runaway JIT build is cut at its deadline, and a
module-level annotation payload (the escape of the second red-team round) is refused.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sandbox import Sandbox
from sandbox.budgets import Budgets
from sandbox.framebuf import FrameBuffer
from sandbox.oslimits import Limits
from sandbox.pool import strongest_isolation, worker_config
from sandbox.protocol import MessageReader, send_message

ROOT = str(Path(__file__).resolve().parents[2])
LABEL = "wall-canary-checker"

JITTABLE = textwrap.dedent(
    """
    import numpy as np
    LIMIT: int = 123457
    KEY = np.array([255, 255, 0], dtype=np.uint8)

    def helper(frame: np.ndarray) -> int:
        return count_color(frame, (255, 255, 0), 10)

    def check(frame: np.ndarray) -> bool:
        return helper(frame) > 0 and KEY[0] == 255 and LIMIT > 0
    """
)

# Installs the detector, marks the moment apply_isolation returns, then runs the real worker.
HARNESS = textwrap.dedent(
    """
    import functools, os, resource, sys
    sys.path.insert(0, sys.argv[4])
    out, label, violate = int(sys.argv[5]), sys.argv[6], sys.argv[7] == "1"
    import sandbox.oslimits as oslimits
    state = {"isolated": False, "busy": False}
    real = oslimits.apply_isolation

    @functools.wraps(real)
    def wrapped(**kwargs):
        reports = real(**kwargs)
        state["isolated"] = True
        return reports

    oslimits.apply_isolation = wrapped

    def hook(event, args):
        if state["busy"] or event not in ("compile", "exec"):
            return
        name = args[1] if event == "compile" else getattr(args[0], "co_filename", None)
        if not isinstance(name, str) or not (name == label or "vlmcar_jit_" in name):
            return
        state["busy"] = True
        try:
            limited = resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
            phase = "after" if state["isolated"] and limited else "BEFORE"
            os.write(out, f"{event} {phase} {name}\\n".encode())
        finally:
            state["busy"] = False

    sys.addaudithook(hook)
    if violate:  # the control: what the detector must catch
        from sandbox.checker import compile_checker
        compile_checker(sys.argv[8], path=label)
    from sandbox.worker import main
    main(sys.argv[1:4])
    """
)


def run_worker(
    source: str, *, isolation: str, jit: bool, cache: Path, violate: bool = False
) -> tuple[list[str], dict[str, object]]:
    """Start one worker under the detector, wait for ready, stop it; return its events."""
    from sandbox.jit import kernel_dir
    from sandbox.oslimits import probe

    required = ()
    if isolation == "strict":
        from sandbox.oslimits import required_layers

        required = required_layers(probe())
    directory = kernel_dir(source, cache_dir=cache) if jit else None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    buffer = FrameBuffer(1 << 20)
    parent, child = socket.socketpair()
    read_end, write_end = os.pipe()
    from sandbox.oslimits import pinned_thread_env

    env = {**os.environ, **pinned_thread_env(), "VLMCAR_CACHE_DIR": str(cache)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-c",
            HARNESS,
            str(child.fileno()),
            str(buffer.reader_fd),
            str(os.getpid()),
            ROOT,
            str(write_end),
            LABEL,
            "1" if violate else "0",
            source,
        ],
        pass_fds=(child.fileno(), buffer.reader_fd, write_end),
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    child.close()
    os.close(write_end)
    config = worker_config(
        source=source,
        name=LABEL,
        entry="check",
        isolation=isolation,
        required=required,
        jit=jit,
        kernel_dir=str(directory or ""),
        jit_reason="",
        limits=Limits(cpu_seconds=600),
        budgets=Budgets(),
        shm_bytes=1 << 20,
    )
    ready: dict[str, object] = {}
    try:
        send_message(parent, b"C", json.dumps(config).encode())
        reader = MessageReader(parent)
        deadline = time.monotonic() + 120
        while True:
            kind, payload = reader.recv(deadline=deadline)
            if kind == b"R":
                ready = json.loads(payload)
                break
            assert kind in (b"B", b"P"), (kind, payload[:300])  # building, probing
        send_message(parent, b"Q")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        parent.close()
        buffer.close()
    with os.fdopen(read_end, "rb") as pipe:
        events = pipe.read().decode().splitlines()
    return events, ready


@pytest.fixture(scope="module")
def level() -> str:
    return strongest_isolation()[0]


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "interpreter"])
def test_no_checker_code_is_compiled_or_run_before_the_wall(
    jit: bool, level: str, tmp_path: Path
) -> None:
    events, ready = run_worker(JITTABLE, isolation=level, jit=jit, cache=tmp_path)
    assert ready["compiled"][0] == "ok", ready  # type: ignore[index]
    assert not [e for e in events if " BEFORE " in e], events
    # The detector saw the checker being compiled and run, so silence above means something.
    assert any(e.startswith("compile after") and LABEL in e for e in events), events
    assert any(e.startswith("exec after") and LABEL in e for e in events), events
    if jit:
        assert ready["compiled"][2] == "jit", ready  # type: ignore[index]
        assert any("vlmcar_jit_" in e for e in events), events


def test_the_detector_sees_a_compile_before_the_wall(level: str, tmp_path: Path) -> None:
    events, _ = run_worker(JITTABLE, isolation=level, jit=False, cache=tmp_path, violate=True)
    assert any(e.startswith("compile BEFORE") and LABEL in e for e in events), events


# --- the escape of the second red-team round -------------------------------------------------

ANNOTATION_PAYLOADS = [
    "X: __import__('os').system('touch /tmp/vlmcar-pwned') = 100\n",
    "X: (lambda: 1)() = 100\n",
    "X: [c for c in ()] = 100\n",
    "def helper(v: print('x')) -> int:\n    return v\n",
    "def helper(v) -> (yield):\n    return v\n",
]


@pytest.mark.parametrize("payload", ANNOTATION_PAYLOADS)
def test_annotation_payloads_are_refused_by_the_audit(payload: str) -> None:
    from sandbox import audit

    report = audit(payload + "def check(frame):\n    return True\n")
    assert not report.ok and "N420" in report.codes


def test_type_annotations_are_accepted_and_never_run(tmp_path: Path) -> None:
    source = (
        "import numpy as np\n"
        "LIMIT: int = 3\n"
        "NAMES: 'tuple[str, ...]' = ('a', 'b')\n"
        "def check(frame: np.ndarray, first: np.ndarray | None) -> bool:\n"
        "    h: int = frame.shape[0]\n"
        "    return bool(h > LIMIT)\n"
    )
    with Sandbox([source], spare=False) as box:
        frames = np.zeros((2, 8, 8, 3), np.uint8)
        assert box.evaluate(frames).results.tolist() == [[True, True]]


# --- no leaks, no orphans ---------------------------------------------------------------------


def shm_entries() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


SPIN = "def check(frame):\n    n = 0\n    while n >= 0:\n        n = n + 1 - 1\n    return True\n"
OK_SRC = "def check(frame):\n    return bool(frame.max() > 100)\n"
BOMB = (
    "import numpy as np\ndef check(frame):\n"
    "    return bool(np.ones(3 * 10 ** 9, dtype=np.uint8).sum() > 0)\n"
)


def test_no_shared_memory_is_left_behind_on_any_path() -> None:
    before = shm_entries()
    frames = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    big = Budgets(max_iterations=10**12, max_array_bytes=2**40, max_total_bytes=2**41)
    limits = Limits(address_space_bytes=2**30, cpu_seconds=600)
    box = Sandbox([OK_SRC, SPIN, BOMB], timeout=1.0, budgets=big, limits=limits)
    try:
        assert shm_entries() == before  # a memfd has no name anywhere
        r = box.evaluate(frames)
        assert r.statuses == ("ok", "timeout", "memory")
        pid = box.worker_pids[0]
        assert pid is not None
        os.kill(pid, signal.SIGSEGV)  # a crash
        # A signal sent from outside is taken by the worker's main thread, which waits on the
        # serving thread; until it has zapped that thread, the serving thread may answer one
        # more batch. Evaluate once the worker is dead, as after a crash inside a checker.
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(pid), f"worker {pid} survived SIGSEGV for 10 s"
        assert box.evaluate(frames).statuses[0] == "crash"
        assert shm_entries() == before
    finally:
        box.close()
    assert shm_entries() == before


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from sandbox import Sandbox
    import numpy as np
    from sandbox.budgets import Budgets
    unbounded = Budgets(max_iterations=10**12, max_seconds=10**6)
    # jit=False: a kernel of the spinning checker would spin in the agreement probe, before any
    # evaluate; this is about a worker busy in a checker when its parent dies
    box = Sandbox(
        [sys.argv[2], sys.argv[3]], spare=False, timeout=600, budgets=unbounded, jit=False
    )
    print(" ".join(str(p) for p in box.worker_pids), flush=True)
    box.evaluate(np.zeros((1, 8, 8, 3), np.uint8))  # the spinning checker never answers
    """
)


def test_workers_die_with_their_parent_even_when_busy(tmp_path: Path) -> None:
    before = shm_entries()
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, ROOT, OK_SRC, SPIN],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        ready, _, _ = select.select([parent.stdout], [], [], 120)  # never hang the suite
        assert ready, "the parent did not start its workers within 120 s"
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        time.sleep(1.0)  # the second worker is now busy in its checker, not reading its socket
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), "a worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
    assert shm_entries() == before


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_workers_lead_their_own_process_group() -> None:
    with Sandbox([OK_SRC], spare=False) as box:
        pid = box.worker_pid
        assert pid is not None and os.getpgid(pid) == pid != os.getpgid(0)


# --- the JIT build has a deadline -------------------------------------------------------------


def test_a_slow_jit_build_is_cut_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLMCAR_CACHE_DIR", str(tmp_path))  # nothing cached: a cold compile
    body = "".join(
        f"    t{i} = frame[{i % 8}, {i % 8}, 0] * {i} + t{i - 1}\n" for i in range(1, 150)
    )
    source = f"def check(frame):\n    t0 = 0\n{body}    return t149 > 0\n"
    with Sandbox([source], jit_timeout=0.2, spare=False) as box:
        # The reason is only written when the deadline fired and the worker was killed
        # (a build that finishes, or fails, gives another reason).
        mode, why = box.jit_modes[0]
        assert mode == "interpreter" and "jit_timeout" in why, why
        frames = np.full((2, 8, 8, 3), 3, np.uint8)
        assert box.evaluate(frames).results.tolist() == [[True, True]]


def test_module_constants_that_would_not_finish_fail_fast() -> None:
    for constant in ("X = 10 ** 10 ** 10\n", "X = (1,) * 10 ** 9\n", "X = 'ab' * 10 ** 8\n"):
        source = constant + "def check(frame):\n    return X is not None\n"
        t0 = time.monotonic()
        with pytest.raises(Exception, match="module constant 'X'"):
            Sandbox([source], spare=False)
        assert time.monotonic() - t0 < 30  # parent-side refusal: no worker is started


def test_constants_built_from_shared_parts_fail_fast() -> None:
    # (A,) * 60000 holds 60,000 references but 3.6e9 values once expanded (as the JIT would
    # write it out): the size walk stops at the limit instead of walking them all.
    for constant in (
        "A = (0,) * 60000\nX = (A,) * 60000\n",
        "A = (1.5,) * 65000\nX = {'red': (A,) * 65000}\n",
        "A = (1, 2)\nB = (A,) * 256\nX = (B,) * 256\n",
    ):
        source = constant + "def check(frame):\n    return X is not None\n"
        t0 = time.monotonic()
        with (
            pytest.raises(Exception, match=r"module constant 'X'.*65,536 values"),
            Sandbox([source], spare=False) as box,
        ):
            box.evaluate(np.zeros((1, 4, 4, 3), np.uint8))
        assert time.monotonic() - t0 < 30


def test_large_tuple_tables_stay_on_the_interpreter() -> None:
    # Numba types each element of a tuple constant: 4,096 values take ~15 s to compile.
    source = "T = (3,) * 2000\n\ndef check(frame):\n    return frame[0, 0, 0] > T[7]\n"
    with Sandbox([source], spare=False) as box:
        mode, why = box.jit_modes[0]
        assert mode == "interpreter" and "np.array" in why, why
        frames = np.full((2, 8, 8, 3), 4, np.uint8)
        assert box.evaluate(frames).results.tolist() == [[True, True]]


def test_a_slow_agreement_probe_is_cut_at_its_deadline() -> None:
    # The kernel builds quickly, but the interpreter half of the probe (20,000 guarded steps per
    # probe frame) takes longer than 4 x timeout: the worker is killed, the checker stays on the
    # interpreter, and the reason names the probe.
    source = (
        "def check(frame):\n"
        "    s = 0\n"
        "    for i in range(20000):\n"
        "        s += int(frame[i % 8, 0, 0])\n"
        "    return s > 0\n"
    )
    with Sandbox([source], timeout=0.02, spare=False) as box:
        mode, why = box.jit_modes[0]
        assert mode == "interpreter" and "agreement probe" in why, why
