"""Tests for sandbox/pool.py and sandbox/worker.py: real worker processes, real OS limits."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sandbox import AuditError, Budgets, FrameError, IsolationUnavailable, SandboxError
from sandbox.oslimits import LAYERS, LayerReport, Limits
from sandbox.pool import Sandbox, strongest_isolation

pytestmark = pytest.mark.slow

OK_SRC = "def check(frame):\n    return bool(frame.mean() > 10)\n"
MAX_SRC = "def check(frame):\n    return bool(frame.max() > 100)\n"
SPIN = "def check(frame):\n    n = 0\n    while n >= 0:\n        n = n + 1\n    return True\n"
SPIN_SWALLOW = (
    "def check(frame):\n    n = 0\n    while n >= 0:\n        try:\n            n = n + 1\n"
    "        except Exception:\n            n = 0\n    return True\n"
)
SLOW = (
    "import numpy as np\ndef check(frame):\n    x = 0.0\n    for i in range(400):\n"
    "        x = x + float(np.sort(np.arange(100000.0) * -1.0)[0])\n    return x < 0\n"
)
FRAMES = np.full((4, 16, 16, 3), 50, np.uint8)
FRAMES[2:] = 200
MARGIN = 3.0  # seconds of slack over a deadline on a loaded 2-core machine
BIG_BUDGETS = Budgets(max_iterations=10**12, max_array_bytes=2**40, max_total_bytes=2**41)


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def rss_kib(pid: int) -> int:
    return int(proc_status(pid)["VmRSS"].split()[0])


@pytest.fixture(scope="module")
def box() -> Sandbox:
    with Sandbox([OK_SRC, MAX_SRC], names=["mean", "max"], timeout=2.0) as sandbox:
        yield sandbox


def test_default_isolation_is_the_strongest_available(box: Sandbox) -> None:
    level, reports = strongest_isolation()
    assert box.isolation == level
    assert [r.name for r in reports] == [*LAYERS, "seal"]


def test_results_and_statuses(box: Sandbox) -> None:
    r = box.evaluate(FRAMES)
    assert r.ok and r.statuses == ("ok", "ok")
    assert r.results.tolist() == [[True] * 4, [False, False, True, True]]


def test_firsts_reach_two_argument_checkers() -> None:
    src = "def check(frame, first):\n    return changed_fraction(frame, first, 10) > 0.5\n"
    with Sandbox([src], spare=False) as sandbox:
        firsts = np.zeros_like(FRAMES)
        assert sandbox.evaluate(FRAMES, firsts).results.tolist() == [[True] * 4]
        assert sandbox.evaluate(FRAMES).results.tolist() == [[False] * 4]


def test_worker_is_really_isolated(box: Sandbox) -> None:
    if box.isolation != "strict":
        level, reports = strongest_isolation()
        assert level != "strict" and not all(r.available for r in reports)
        return
    assert len(set(box.worker_pids)) == len(box.sources)  # one worker per checker
    pid = box.worker_pid
    assert pid is not None and pid != os.getpid()
    status = proc_status(pid)
    assert status["Seccomp"].strip() == "2"  # filter mode
    assert status["NoNewPrivs"].strip() == "1"
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert "Max file size             0" in limits
    assert all(layer.available for layer in box.layers)
    # The worker's parent is this process, not a fork of it: it was exec'd fresh.
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1] == b"-I"


@pytest.mark.parametrize(
    "source",
    [SPIN, pytest.param(SPIN_SWALLOW, marks=pytest.mark.long)],  # the second: make test-long
    ids=["loop", "loop-in-try-except"],
)
def test_runaway_checker_times_out_and_worker_is_replaced(source: str) -> None:
    with Sandbox([OK_SRC, source, MAX_SRC], timeout=1.0, budgets=BIG_BUDGETS) as sandbox:
        before = sandbox.worker_pids
        t0 = time.monotonic()
        r = sandbox.evaluate(FRAMES)
        elapsed = time.monotonic() - t0
        assert r.statuses == ("ok", "timeout", "ok")
        assert "timeout" in r.details[1] and "checker1" in r.details[1]
        assert r.results[0].all() and r.results[2].tolist() == [False, False, True, True]
        assert elapsed < 1.0 + MARGIN
        after = sandbox.worker_pids
        # Only the runaway checker's own worker was killed; the others kept theirs.
        assert after[1] != before[1] and (after[0], after[2]) == (before[0], before[2])
        assert sandbox.respawns == 1
        assert sandbox.evaluate(FRAMES[:1]).statuses[0] == "ok"  # the new worker serves


def test_memory_bomb_past_the_budgets_hits_the_address_space_limit() -> None:
    src = "import numpy as np\ndef check(frame):\n    return bool(np.ones(3 * 10 ** 9, dtype=np.uint8).sum() > 0)\n"
    limits = Limits(address_space_bytes=1 * 2**30, cpu_seconds=600)
    with Sandbox([src, OK_SRC], budgets=BIG_BUDGETS, limits=limits, spare=False) as sandbox:
        r = sandbox.evaluate(FRAMES)
        assert r.statuses == ("memory", "ok")
        assert sandbox.evaluate(FRAMES).statuses == ("memory", "ok")  # worker survived


def test_budget_failures_are_statuses_not_crashes(box: Sandbox) -> None:
    sources = [
        "def down(n):\n    return down(n + 1)\n\ndef check(frame):\n    return down(0)\n",
        "import numpy as np\ndef check(frame):\n    return bool(np.zeros((10 ** 6, 10 ** 6)).sum() > 0)\n",
        "def check(frame):\n    return frame.mean()\n",
        "def check(frame):\n    x = [1]\n    return x[3] > 0\n",
        "def check(frame):\n    frame[0, 0, 0] = 1\n    return True\n",
    ]
    with Sandbox(sources, spare=False) as sandbox:
        pids = sandbox.worker_pids
        r = sandbox.evaluate(FRAMES)
        # The allocation checker fits the JIT subset: natively it meets the address-space limit
        # ("memory") instead of the in-process byte budget ("budget").
        assert r.statuses[0] == "budget" and r.statuses[1] in ("budget", "memory")
        assert r.statuses[2:] == ("contract", "error", "violation")
        assert sandbox.worker_pids == pids  # nothing needed a kill


def test_crash_mid_batch_loses_no_other_result() -> None:
    with Sandbox([OK_SRC, SLOW, MAX_SRC], timeout=30.0) as sandbox:
        pids = sandbox.worker_pids
        pid = pids[1]
        assert pid is not None
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGSEGV))
        killer.start()
        t0 = time.monotonic()
        r = sandbox.evaluate(FRAMES)
        killer.join()
        assert r.statuses[1] == "crash" and "SIGSEGV" in r.details[1]
        assert r.statuses[0] == r.statuses[2] == "ok"
        assert r.results[0].all() and r.results[2].tolist() == [False, False, True, True]
        assert time.monotonic() - t0 < 30
        assert sandbox.worker_pids[1] != pid
        assert (sandbox.worker_pids[0], sandbox.worker_pids[2]) == (pids[0], pids[2])


def test_checker_is_disabled_after_repeated_failures() -> None:
    with Sandbox([SPIN, OK_SRC], timeout=0.5, max_failures=2, budgets=BIG_BUDGETS) as sandbox:
        assert sandbox.evaluate(FRAMES).statuses == ("timeout", "ok")
        assert sandbox.evaluate(FRAMES).statuses == ("timeout", "ok")
        t0 = time.monotonic()
        r = sandbox.evaluate(FRAMES)
        assert r.statuses == ("timeout", "ok") and "disabled after 2 failures" in r.details[0]
        assert time.monotonic() - t0 < 0.5  # not run again
        assert sandbox.respawns == 2


def test_workers_are_recycled() -> None:
    with Sandbox([OK_SRC], recycle_after=3) as sandbox:
        pids = set()
        for _ in range(7):
            assert sandbox.evaluate(FRAMES[:1]).ok
            pids.add(sandbox.worker_pid)
        assert len(pids) == 3


def test_a_spare_older_than_start_timeout_is_still_used() -> None:
    # The spare's start-up deadline runs from its spawn; once its ready message is waiting, an
    # expired deadline must not turn a healthy spare into a start failure at the next recycle.
    # Without the JIT a worker starts in well under a second; 4 s leaves room on a loaded machine.
    with Sandbox([OK_SRC], recycle_after=1, start_timeout=4.0, jit=False) as sandbox:
        assert sandbox.evaluate(FRAMES[:1]).ok
        time.sleep(4.5)
        first = sandbox.worker_pid
        for _ in range(3):
            assert sandbox.evaluate(FRAMES[:1]).ok
        assert sandbox.worker_pid != first
        assert sandbox.recycled >= 3


def test_large_batches_are_split_across_shared_memory() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (50, 16, 16, 3), dtype=np.uint8)
    with Sandbox([MAX_SRC], shm_bytes=16 * 16 * 3 * 8, spare=False) as sandbox:
        r = sandbox.evaluate(frames)
        assert r.ok and r.results[0].tolist() == (frames.max(axis=(1, 2, 3)) > 100).tolist()


def test_audit_rejection_happens_before_any_process() -> None:
    with pytest.raises(AuditError):
        Sandbox([OK_SRC, "import os\ndef check(frame):\n    return True\n"])


def test_inprocess_level_warns_and_works() -> None:
    with (
        pytest.warns(RuntimeWarning, match="inprocess"),
        Sandbox([OK_SRC, "def check(frame):\n    return 1\n"], isolation="inprocess") as sandbox,
    ):
        r = sandbox.evaluate(FRAMES)
        assert r.statuses == ("ok", "contract") and sandbox.worker_pid is None


def test_strict_refuses_to_start_when_a_layer_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulates a machine without seccomp: the probe's verdict is replaced, nothing else.
    import sandbox.pool as pool

    real = pool.probe()
    fake = tuple(
        LayerReport(r.name, False, "libseccomp not found") if r.name == "seccomp" else r
        for r in real
    )
    monkeypatch.setattr(pool, "probe", lambda: fake)
    with pytest.raises(IsolationUnavailable, match="seccomp"):
        Sandbox([OK_SRC], isolation="strict")
    with Sandbox([OK_SRC], spare=False) as sandbox:
        assert sandbox.isolation == "process"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="isolation"):
        Sandbox([OK_SRC], isolation="none")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        Sandbox([OK_SRC], timeout=0)
    with pytest.raises(TypeError, match="sequence"):
        Sandbox(OK_SRC)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names"):
        Sandbox([OK_SRC], names=["a", "b"])


def test_closed_sandbox_refuses_work() -> None:
    sandbox = Sandbox([OK_SRC], spare=False)
    pid = sandbox.worker_pid
    sandbox.close()
    sandbox.close()
    with pytest.raises(Exception, match="closed"):
        sandbox.evaluate(FRAMES)
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_soak_100k_calls_keeps_memory_bounded() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (100, 16, 16, 3), dtype=np.uint8)
    with Sandbox([OK_SRC], spare=False) as sandbox:
        pid = sandbox.worker_pid
        assert pid is not None
        for _ in range(100):  # warm-up: 10k calls
            sandbox.evaluate(frames)
        parent0, worker0 = rss_kib(os.getpid()), rss_kib(pid)
        for _ in range(900):  # 90k more calls
            assert sandbox.evaluate(frames).ok
        parent1, worker1 = rss_kib(os.getpid()), rss_kib(pid)
    assert worker1 - worker0 < 20_000, (worker0, worker1)
    assert parent1 - parent0 < 20_000, (parent0, parent1)


def test_a_checker_failing_on_one_frame_still_answers_for_the_others() -> None:
    src = "def check(frame):\n    if frame[0, 0, 0] == 7:\n        return frame.mean()\n    return bool(frame.max() > 100)\n"
    frames = FRAMES.copy()
    frames[1, 0, 0, 0] = 7
    with Sandbox([src, OK_SRC], spare=False, jit=False) as sandbox:
        r = sandbox.evaluate(frames)
    assert r.statuses == ("contract", "ok")
    assert r.usable()[0].tolist() == [True, False, True, True]
    assert r.results[0].tolist() == [False, False, True, True]
    assert r.usable()[1].all()


def test_jit_kernels_are_used_and_reported() -> None:
    jittable = "def check(frame):\n    return count_color(frame, (200, 200, 200), 0) > 10\n"
    setty = "def check(frame):\n    return len({c for c in range(3) if frame[0, 0, c] > 100}) > 1\n"
    with Sandbox([jittable, setty], spare=False) as sandbox:
        modes = sandbox.jit_modes
        assert modes[0] == ("jit", "")
        assert modes[1][0] == "interpreter" and "SetComp" in modes[1][1]
        assert sandbox.evaluate(FRAMES).results.tolist() == [[False, False, True, True]] * 2


def test_every_failure_kind_counts_toward_disabling() -> None:
    # Not only kills: a checker that fails in its worker on every batch (here: a budget) is
    # disabled too; one that fails on the odd batch keeps running.
    bomb = "import numpy as np\ndef check(frame):\n    return bool(np.zeros((10 ** 6, 10 ** 6)).sum() > 0)\n"
    odd = "def check(frame):\n    return 1 // int(frame[0, 0, 0] - 7) > -5\n"
    frames7 = FRAMES.copy()
    frames7[:, 0, 0, 0] = 7
    with Sandbox([bomb, odd, OK_SRC], max_failures=2, spare=False, jit=False) as sandbox:
        first = sandbox.evaluate(frames7)
        assert first.statuses == ("budget", "error", "ok")
        second = sandbox.evaluate(FRAMES)
        assert second.statuses == ("budget", "ok", "ok")
        third = sandbox.evaluate(frames7)
        assert (
            third.statuses[0] == "budget"
            and "disabled after 2 failures in a row" in third.details[0]
        )
        assert third.statuses[1] == "error" and "disabled" not in third.details[1]
        assert sandbox.respawns == 0


# -- frame stages: batches written in place in the workers' shared memory ---------------------

FIRST_SRC = "def check(frame, first):\n    return changed_fraction(frame, first, 10) > 0.5\n"


def test_a_stage_evaluates_what_was_written_into_it_and_keeps_its_first_frames() -> None:
    rng = np.random.default_rng(1)
    with Sandbox([FIRST_SRC, MAX_SRC], spare=False) as sandbox:
        stage = sandbox.stage(4, (16, 16), firsts=True)
        assert stage.shared and stage.current and stage.firsts is not None
        stage.firsts[...] = FRAMES  # written once
        for _ in range(3):  # new frames every batch, the first frames stay
            frames = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
            frames[1] = FRAMES[1]  # unchanged from its first frame
            stage.frames[...] = frames
            staged = sandbox.evaluate_stage(stage)
            copied = sandbox.evaluate(frames, FRAMES.copy())
            assert staged.ok and staged.results.tolist() == copied.results.tolist()
            assert staged.results[0, 1] == False  # noqa: E712 - it compared with its first frame
            assert not stage.current  # evaluate() wrote the shared memory: the stage is stale
            stage = sandbox.stage(4, (16, 16), firsts=True)
            stage.firsts[...] = FRAMES


def test_a_stale_or_foreign_stage_is_refused() -> None:
    with Sandbox([MAX_SRC], spare=False) as one, Sandbox([MAX_SRC], spare=False) as two:
        old = one.stage(2, (8, 8))
        new = one.stage(2, (8, 8))  # a second stage makes the first stale
        with pytest.raises(SandboxError, match="stale"):
            one.evaluate_stage(old)
        assert one.evaluate_stage(new).ok
        with pytest.raises(SandboxError, match="another Sandbox"):
            two.evaluate_stage(new)
        for n, shape in ((0, (8, 8)), (2, (0, 8)), (2, (8, 5000))):
            with pytest.raises(FrameError):
                one.stage(n, shape)
    with pytest.raises(SandboxError, match="closed"):
        one.evaluate_stage(new)
    assert not new.current


def test_a_stage_larger_than_the_shared_memory_is_split_like_evaluate() -> None:
    frames = np.random.default_rng(2).integers(0, 256, (50, 16, 16, 3), dtype=np.uint8)
    with Sandbox([MAX_SRC], shm_bytes=16 * 16 * 3 * 8, spare=False) as sandbox:
        stage = sandbox.stage(50, (16, 16))
        assert not stage.shared  # private slots, evaluated in chunks
        stage.frames[...] = frames
        r = sandbox.evaluate_stage(stage)
        assert r.ok and r.results[0].tolist() == (frames.max(axis=(1, 2, 3)) > 100).tolist()
        assert stage.current  # private slots are not clobbered by their own chunks


def test_workers_cannot_write_the_stage_they_read() -> None:
    writer = (
        "def check(frame):\n"
        "    try:\n"
        "        frame[0, 0, 0] = 7\n"
        "        return True\n"
        "    except Exception:\n"
        "        return False\n"
    )
    with Sandbox([writer], spare=False) as sandbox:
        stage = sandbox.stage(2, (8, 8))
        stage.frames[...] = 0
        r = sandbox.evaluate_stage(stage)
        assert not r.results.any()  # the write failed: workers map the frames read-only
        assert int(stage.frames.max()) == 0
