"""Tests of :mod:`sandbox.seccomp_policy`: the allow-list is coherent, Numba works inside it, the seal.

The Numba tests are the worker's real sequence: numba imported before the wall, a kernel compiled
*after* stage 1 with its on-disk cache written beneath a write path, :func:`sandbox.oslimits.seal`,
then the kernel, numpy and RestrictedPython code still run while new executable memory, memfd and
file writes are refused. A second child loads the kernel from that cache.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from sandbox.libseccomp import SCMP_ACT_ALLOW, LibSeccomp
from sandbox.oslimits import LayerReport, probe
from sandbox.seccomp_policy import (
    ALLOWED,
    CONFINED_CHANGES,
    DENIED,
    UNCONFINED_CHANGES,
    seal_rules,
    worker_rules,
)
from tests.sandbox.oschild import LINUX, result_of, run_child, unavailable_layer_is_refused

STRICT = ["netns", "ipcns", "landlock", "privileges", "no_new_privs", "rlimits", "seccomp"]

KERNEL_MODULE = """\
import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def red_pixels(frame):
    count = 0
    for y in range(frame.shape[0]):
        for x in range(frame.shape[1]):
            if frame[y, x, 0] > 200 and frame[y, x, 1] < 50:
                count += 1
    return count
"""


@pytest.fixture(scope="module")
def layers() -> dict[str, LayerReport]:
    return {r.name: r for r in probe()}


def seal_is_refused(layers: dict[str, LayerReport]) -> bool:
    """When the probe says the seal is unavailable, check that seal() raises; return True then."""
    if layers["seal"].available:
        return False
    done = run_child(
        """
        try:
            seal()
        except IsolationUnavailable as exc:
            report(raised=True, missing=list(exc.missing))
        else:
            report(raised=False, missing=[])
        """
    )
    assert result_of(done)["raised"], "the seal is reported unavailable but seal() did not raise"
    return True


# --- the policy as a table ------------------------------------------------------------------------

CONDITIONAL = {"clone", "clone3", "kill", "tgkill", "prlimit64", "setrlimit", "ioctl", "fcntl",
               "prctl", "open", "openat", "openat2"}  # fmt: skip


def test_policy_groups_are_disjoint_and_keep_their_intent() -> None:
    groups = {
        "ALLOWED": set(ALLOWED),
        "DENIED": set(DENIED),
        "CONFINED": set(CONFINED_CHANGES),
        "UNCONFINED": set(UNCONFINED_CHANGES),
        "CONDITIONAL": CONDITIONAL,
    }
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not groups[a] & groups[b], (a, b, groups[a] & groups[b])
    for group in (ALLOWED, DENIED, CONFINED_CHANGES, UNCONFINED_CHANGES):
        assert len(group) == len(set(group))
    # the deny rules of the old filter, kept as intent
    intent = """execve execveat fork vfork socket connect bind ptrace process_vm_readv mount bpf
        io_uring_setup keyctl setuid unshare setns shmget msgget semget mq_open memfd_create"""
    assert set(intent.split()) <= set(DENIED)


@pytest.mark.skipif(not LINUX, reason="libseccomp resolves names for the native architecture")
@pytest.mark.parametrize("settable", [False, True], ids=["limits-fixed", "limits-settable"])
@pytest.mark.parametrize("writes", ["none", "confined", "any"])
def test_rules_never_mix_an_unconditional_allow_with_a_denial(writes: str, settable: bool) -> None:
    lib = LibSeccomp()
    rules = worker_rules(pid=1234, writes=writes, limits_settable=settable)  # type: ignore[arg-type]
    by_name: dict[str, list[tuple[int, int]]] = {}
    for rule in rules:
        by_name.setdefault(rule.syscall, []).append((rule.action, len(rule.cmps)))
    for name, actions in by_name.items():
        if (SCMP_ACT_ALLOW, 0) in actions:
            assert actions == [(SCMP_ACT_ALLOW, 0)], (name, actions)
    # what a worker cannot live without resolves here
    for name in ("mmap", "futex", "read", "write", "openat", "clone", "exit_group", "recvfrom"):
        assert lib.seccomp_syscall_resolve_name(name) >= 0, name
    allowed = {r.syscall for r in rules if r.action == SCMP_ACT_ALLOW}
    if writes == "none":
        assert not allowed & set(CONFINED_CHANGES)
    else:
        assert set(CONFINED_CHANGES) <= allowed
    assert bool(set(UNCONFINED_CHANGES) & allowed) == (writes == "any")
    seal_names = {r.syscall for r in seal_rules()}
    assert {"mmap", "mprotect", "pkey_mprotect", "memfd_create", "openat"} <= seal_names
    assert set(CONFINED_CHANGES) <= seal_names


# --- Numba inside the wall, then the seal ---------------------------------------------------------


def _isolate(directory: Path, required: list[str]) -> str:
    return f"""
import numba, numpy as np
from RestrictedPython import compile_restricted, safe_globals
reports = apply_isolation(
    limits=Limits(file_size_bytes=64 << 20), network=True, seccomp=True, required={required!r},
    read_paths=[*default_read_paths(), {str(directory)!r}], write_paths=[{str(directory)!r}],
)
sys.path.insert(0, {str(directory)!r})
frame = np.zeros((16, 16, 3), np.uint8)
frame[:4, :5, 0] = 255
"""


@pytest.mark.skipif(not LINUX, reason="seccomp and Landlock are Linux-only")
def test_numba_compiles_after_stage_one_and_runs_after_the_seal(
    layers: dict[str, LayerReport], tmp_path: Path
) -> None:
    if unavailable_layer_is_refused("seccomp", layers) or seal_is_refused(layers):
        return
    (tmp_path / "kernels_mod.py").write_text(KERNEL_MODULE)
    required = [n for n in STRICT if layers[n].available]
    done = run_child(
        _isolate(tmp_path, required)
        + """
import ctypes, mmap, threading
import kernels_mod  # imported and compiled inside the wall
compiled = kernels_mod.red_pixels(frame)
plain = numba.njit(lambda a: a.sum() * 2)  # no cache: memory only
doubled = int(plain(np.arange(5)))
sealed = seal()
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
def mprotect_exec():
    page = libc.mmap(None, 4096, 3, 0x22, -1, 0)  # RW, MAP_PRIVATE | MAP_ANONYMOUS
    return [libc.mprotect(page, 4096, 5), ctypes.get_errno()]  # R | X
def restricted():
    code = compile_restricted("def f(n):\\n    return n * 3 + 1\\n", "<checker>", "exec")
    namespace = dict(safe_globals)
    exec(code, namespace)
    return namespace["f"](10)
def in_thread():
    box = []
    t = threading.Thread(target=lambda: box.append(kernels_mod.red_pixels(frame)))
    t.start(); t.join(10)
    return box[0]
report(
    compiled=compiled, doubled=doubled,
    after_seal=attempt(lambda: kernels_mod.red_pixels(frame)),
    plain_after=attempt(lambda: int(plain(np.arange(5)))),
    numpy=attempt(lambda: float(np.linalg.norm(frame.astype(np.float64)))),
    restricted=attempt(restricted),
    thread=attempt(in_thread),
    mmap_exec=attempt(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)),
    mmap_rw=attempt(lambda: mmap.mmap(-1, 4096).close()),
    mprotect_exec=mprotect_exec(),
    memfd=attempt(lambda: os.memfd_create("x")),
    write=attempt(lambda: open(os.path.join(sys.path[0], "late.txt"), "w")),
    unlink=attempt(lambda: os.unlink(os.path.join(sys.path[0], "kernels_mod.py"))),
    seal=sealed.detail,
)
"""
    )
    out = result_of(done)
    expected = 4 * 5
    assert out["compiled"] == expected
    assert out["doubled"] == 20
    assert out["after_seal"] == {"ok": True, "value": expected}
    assert out["plain_after"] == {"ok": True, "value": 20}
    assert out["numpy"]["ok"]
    assert out["restricted"] == {"ok": True, "value": 31}
    assert out["thread"] == {"ok": True, "value": expected}
    assert out["mmap_exec"] == {"ok": False, "type": "PermissionError", "errno": errno.EPERM}
    assert out["mmap_rw"]["ok"]
    assert out["mprotect_exec"] == [-1, errno.EPERM]
    assert out["memfd"] == {"ok": False, "type": "PermissionError", "errno": errno.EPERM}
    assert out["write"] == {"ok": False, "type": "PermissionError", "errno": errno.EACCES}
    assert out["unlink"] == {"ok": False, "type": "PermissionError", "errno": errno.EACCES}
    assert "PROT_EXEC" in out["seal"]
    assert (tmp_path / "kernels_mod.py").exists() and not (tmp_path / "late.txt").exists()
    cached = sorted(p.suffix for p in (tmp_path / "__pycache__").iterdir())
    assert ".nbi" in cached and ".nbc" in cached  # Numba's cache, written inside the wall

    # A second worker loads the kernel from that cache instead of compiling it.
    done = run_child(
        _isolate(tmp_path, required)
        + """
import kernels_mod
value = kernels_mod.red_pixels(frame)
seal()
stats = kernels_mod.red_pixels.stats
report(value=value, again=kernels_mod.red_pixels(frame), hits=sum(stats.cache_hits.values()),
       misses=sum(stats.cache_misses.values()))
"""
    )
    out = result_of(done)
    assert out == {"value": expected, "again": expected, "hits": 1, "misses": 0}


@pytest.mark.skipif(not LINUX, reason="seccomp and Landlock are Linux-only")
def test_nothing_compiles_after_the_seal(layers: dict[str, LayerReport]) -> None:
    """LLVM cannot map new code: the compile fails (llvmlite does not survive it: SIGSEGV)."""
    if seal_is_refused(layers):
        return
    done = run_child(
        """
        import numba, numpy as np
        apply_isolation(limits=Limits(), network=True, seccomp=True)
        before = int(numba.njit(lambda a: a.sum())(np.arange(4)))
        seal()
        print("SEALED", before, flush=True)
        late = numba.njit(lambda a: a.max())
        print("COMPILED", late(np.arange(4)), flush=True)
        """
    )
    assert "SEALED 6" in done.stdout, done.stderr
    assert "COMPILED" not in done.stdout
    assert done.returncode != 0


@pytest.mark.skipif(not LINUX, reason="seccomp and Landlock are Linux-only")
def test_jit_kernel_built_inside_the_wall_runs_after_the_seal(
    layers: dict[str, LayerReport], tmp_path: Path
) -> None:
    """The worker's own path: :func:`sandbox.jit.build_kernel` after stage 1, batches after seal."""
    if seal_is_refused(layers):
        return
    required = [n for n in STRICT if layers[n].available]
    source = "def check(frame):\n    return count_color(frame, (255, 0, 0), 10) > 3\n"
    done = run_child(
        f"""
import numba, numpy as np
from pathlib import Path
from sandbox import vision
from sandbox.checker import compile_checker
from sandbox.jit import build_kernel
vision.warm_up()
vision.memory_only_cache()
numba.config.CACHE_DIR = ""
apply_isolation(limits=Limits(file_size_bytes=64 << 20), network=True, seccomp=True,
                required={required!r}, write_paths=[{str(tmp_path)!r}])
kernel = build_kernel({source!r}, directory=Path({str(tmp_path)!r}))
seal()
checker = compile_checker({source!r}, path="c.py")
reason = checker.attach_kernel(kernel) if not isinstance(kernel, str) else kernel
frames = np.zeros((3, 16, 16, 3), np.uint8)
frames[1, :4, :4, 0] = 255
frames.flags.writeable = False
report(reason=reason, jit=checker.kernel is not None,
       answers=[bool(a) for a in checker.batch_immutable(frames, frames)])
"""
    )
    out = result_of(done)
    assert out["reason"] is None, out
    assert out["jit"] is True
    assert out["answers"] == [False, True, False]
