"""Tests of :mod:`sandbox.oslimits` with real processes, rlimits, namespaces and seccomp (no mocks).

Every isolation test runs in a fresh child interpreter, because isolation is irreversible: the child
applies the layers, tries the forbidden thing and prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.oslimits import LAYERS, LayerReport, Limits, pinned_thread_env, probe

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "sandbox" / "oslimits.py"
LINUX = sys.platform.startswith("linux")

IMPORTS = """\
from sandbox.oslimits import Limits, apply_isolation
from sandbox.errors import IsolationUnavailable
"""

PREAMBLE = """\
import errno, json, os, sys

def report(**facts):
    print("RESULT " + json.dumps(facts), flush=True)

def attempt(call):
    try:
        value = call()
    except BaseException as exc:
        return {"ok": False, "type": type(exc).__name__, "errno": getattr(exc, "errno", None)}
    return {"ok": True, "value": value if isinstance(value, (int, float, str, bool)) else None}
"""


def child_env(*, pinned: bool = True, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in pinned_thread_env()}
    env["PYTHONPATH"] = str(ROOT)
    if pinned:
        env.update(pinned_thread_env())
    env.update(extra)
    return env


def run_child(
    body: str,
    *,
    timeout: float = 30,
    pinned: bool = True,
    import_sandbox: bool = True,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    script = PREAMBLE + (IMPORTS if import_sandbox else "") + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(pinned=pinned, **extra),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def result_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"child printed no result:\n{done.stdout}\n{done.stderr}"
    out: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return out


@pytest.fixture(scope="module")
def layers() -> dict[str, LayerReport]:
    return {r.name: r for r in probe()}


def unavailable_layer_is_refused(name: str, layers: dict[str, LayerReport]) -> bool:
    """When ``name`` is unavailable here, check that requiring it fails loudly; return True then."""
    if layers[name].available:
        return False
    done = run_child(
        f"""
        try:
            apply_isolation(limits=Limits(), network=True, seccomp=True, required=[{name!r}])
        except IsolationUnavailable as exc:
            report(raised=True, missing=list(exc.missing))
        else:
            report(raised=False, missing=[])
        """
    )
    out = result_of(done)
    assert out["raised"], f"{name} is reported unavailable but requiring it did not raise"
    assert any(m.startswith(name) for m in out["missing"])
    return True


# --- Limits, LayerReport, pinned_thread_env -------------------------------------------------------


def test_limits_defaults() -> None:
    limits = Limits()
    assert limits.address_space_bytes == 2 * 2**30
    assert limits.cpu_seconds == 60
    assert limits.open_files == 64
    assert limits.file_size_bytes == 0
    assert limits.processes is None
    assert limits.recursion_limit == 400
    assert limits.stack_bytes is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address_space_bytes", 2),
        ("address_space_bytes", -1),
        ("address_space_bytes", 1.5e9),
        ("address_space_bytes", 2**64),
        ("cpu_seconds", 0),
        ("cpu_seconds", -5),
        ("cpu_seconds", True),
        ("cpu_seconds", "60"),
        ("open_files", 3),
        ("open_files", 10**9),
        ("file_size_bytes", -1),
        ("file_size_bytes", None),
        ("processes", 0),
        ("processes", 2.0),
        ("recursion_limit", 10),
        ("recursion_limit", 10**7),
        ("stack_bytes", 4096),
        ("stack_bytes", -1),
    ],
)
def test_limits_validation_names_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field) as info:
        Limits(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(info.value) or f"{value:,}" in str(info.value)


def test_limits_accepts_edges_and_is_frozen() -> None:
    limits = Limits(
        address_space_bytes=64 * 2**20,
        cpu_seconds=1,
        open_files=16,
        processes=1,
        recursion_limit=50,
        stack_bytes=2**20,
    )
    with pytest.raises(AttributeError):
        limits.cpu_seconds = 5  # type: ignore[misc]


def test_pinned_thread_env() -> None:
    env = pinned_thread_env()
    assert env == {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "1",
    }
    env["OMP_NUM_THREADS"] = "8"  # a fresh dict every call
    assert pinned_thread_env()["OMP_NUM_THREADS"] == "1"


# --- probe ----------------------------------------------------------------------------------------


def _process_state() -> dict[str, str]:
    state = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("NoNewPrivs", "Seccomp"):
                state[key] = value.strip()
    import resource

    for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"):
        state[name] = str(resource.getrlimit(getattr(resource, name)))
    state["netns"] = os.readlink("/proc/self/ns/net")
    state["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "<unset>")
    return state


@pytest.mark.skipif(not LINUX, reason="the process state is read from /proc")
def test_probe_reports_each_layer_and_leaves_caller_untouched() -> None:
    before = _process_state()
    started = time.monotonic()
    reports = probe()
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert [r.name for r in reports] == list(LAYERS)
    assert all(isinstance(r, LayerReport) and r.detail for r in reports)
    assert _process_state() == before
    # The test process can still start processes and use the network.
    assert subprocess.run(["true"], check=False).returncode == 0
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname(), timeout=2),
    ):
        pass


def test_probe_when_not_linux_or_root(layers: dict[str, LayerReport]) -> None:
    assert layers["thread_pinning"].available
    if not LINUX:
        assert not any(layers[n].available for n in LAYERS if n != "thread_pinning")
    elif os.geteuid() == 0:
        # root on Linux: every layer must work, so the tests below really exercise them.
        assert all(r.available for r in layers.values()), layers
        assert "CLONE_NEWNET" in layers["netns"].detail
        assert "libseccomp" in layers["seccomp"].detail


# --- netns ----------------------------------------------------------------------------------------


def test_network_namespace_cuts_off_loopback(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("netns", layers):
        return
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        done = run_child(
            f"""
            import socket
            def connect():
                with socket.create_connection(("127.0.0.1", {port}), timeout=2):
                    return "connected"
            before = attempt(connect)
            reports = apply_isolation(
                limits=Limits(), network=True, seccomp=False, required=["netns"]
            )
            after = attempt(connect)
            interfaces = sorted(name for _, name in socket.if_nameindex())
            report(before=before, after=after, interfaces=interfaces,
                   layers=[r.name for r in reports if r.available])
            """
        )
    out = result_of(done)
    assert out["before"] == {"ok": True, "value": "connected"}  # the port really listens
    assert not out["after"]["ok"]
    assert out["after"]["type"] == "OSError"
    assert out["after"]["errno"] in {101, 111}  # ENETUNREACH (loopback down) or ECONNREFUSED
    assert out["interfaces"] == ["lo"]
    assert "netns" in out["layers"]


# --- seccomp: processes, threads, numpy, sockets, raw syscalls ------------------------------------


def test_seccomp_blocks_new_processes_but_not_threads_or_numpy(
    layers: dict[str, LayerReport],
) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        import socket, subprocess, threading
        import numpy as np
        reports = apply_isolation(limits=Limits(), network=False, seccomp=True,
                                  required=["seccomp", "no_new_privs", "rlimits"])
        def thread():
            box = []
            t = threading.Thread(target=lambda: box.append(np.ones((100, 100)).sum()))
            t.start(); t.join(5)
            return float(box[0])
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        report(
            run=attempt(lambda: subprocess.run(["id"], capture_output=True).returncode),
            system=attempt(lambda: os.system("id >/dev/null 2>&1")),
            fork=attempt(os.fork),
            spawn=attempt(lambda: os.posix_spawn("/usr/bin/id", ["id"], {})),
            execv=attempt(lambda: os.execv("/usr/bin/id", ["id"])),
            socket=attempt(lambda: socket.socket().close()),
            unix_socket=attempt(lambda: socket.socket(socket.AF_UNIX).close()),
            socketpair=attempt(lambda: [s.close() for s in socket.socketpair()] and "pair"),
            thread=attempt(thread),
            numpy=attempt(lambda: float(np.ones((100, 100)).sum())),
            seccomp_mode=status["Seccomp"].strip(),
            no_new_privs=status["NoNewPrivs"].strip(),
            layers=[r.name for r in reports if r.available],
        )
        """
    )
    out = result_of(done)
    for what in ("run", "fork", "spawn", "execv", "socket", "unix_socket"):
        assert out[what]["ok"] is False, what
        assert out[what]["type"] == "PermissionError", what
        assert out[what]["errno"] == 1, what
    assert out["system"]["ok"] and out["system"]["value"] != 0  # os.system cannot start a shell
    assert out["socketpair"] == {"ok": True, "value": "pair"}  # kept for multiprocessing
    assert out["thread"] == {"ok": True, "value": 10000.0}
    assert out["numpy"] == {"ok": True, "value": 10000.0}
    assert out["seccomp_mode"] == "2"
    assert out["no_new_privs"] == "1"
    assert out["layers"] == ["thread_pinning", "no_new_privs", "rlimits", "seccomp"]


def test_blas_thread_pool_starts_after_the_filter(layers: dict[str, LayerReport]) -> None:
    """Unpinned OpenBLAS creates its threads after the filter: clone3 -> ENOSYS -> clone works."""
    if unavailable_layer_is_refused("seccomp", layers):
        return
    # `import sandbox` imports numpy, so load the module by path to import numpy after the filter.
    done = run_child(
        f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("oslimits_alone", {str(MODULE)!r})
        alone = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = alone
        spec.loader.exec_module(alone)
        numpy_before = "numpy" in sys.modules
        alone.apply_isolation(limits=alone.Limits(), network=True, seccomp=True,
                              required=["seccomp"])
        pinned = os.environ["OPENBLAS_NUM_THREADS"]
        os.environ["OPENBLAS_NUM_THREADS"] = "2"  # undo the pinning to make OpenBLAS start a thread
        import numpy as np
        a = np.arange(256 * 256, dtype=np.float64).reshape(256, 256) / 65536
        total = float((a @ a.T).sum())
        threads = int(dict(l.split(":", 1) for l in open("/proc/self/status"))["Threads"])
        report(total=total, expected=float((a.sum(axis=0) ** 2).sum()), threads=threads,
               numpy_before=numpy_before, pinned=pinned)
        """,
        pinned=False,
        import_sandbox=False,
        OPENBLAS_NUM_THREADS="2",
        OMP_NUM_THREADS="2",
    )
    out = result_of(done)
    assert out["numpy_before"] is False
    assert out["pinned"] == "1"
    assert out["total"] == pytest.approx(out["expected"])
    assert out["threads"] >= 2  # OpenBLAS really started its worker thread under the filter


def test_seccomp_covers_threads_started_before_it(layers: dict[str, LayerReport]) -> None:
    """The filter is synchronised to every thread (TSYNC), not just the one that loads it."""
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        import threading
        go, box = threading.Event(), []
        def early():
            go.wait(10)
            box.append(attempt(os.fork))
        t = threading.Thread(target=early)
        t.start()
        apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"])
        go.set()
        t.join(10)
        report(early=box[0])
        """
    )
    out = result_of(done)
    assert out["early"] == {"ok": False, "type": "PermissionError", "errno": 1}


@pytest.mark.skipif(not LINUX, reason="raw Linux syscall numbers")
def test_seccomp_raw_syscalls(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        import ctypes
        from sandbox.oslimits import _LibSeccomp
        lib = _LibSeccomp()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        def raw(name, *args):
            number = lib.seccomp_syscall_resolve_name(name)
            ctypes.set_errno(0)
            rc = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
            return [rc, ctypes.get_errno()]
        apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"])
        report(
            clone3=raw("clone3", 0, 0),
            clone_process=raw("clone", 17, 0, 0, 0, 0),  # SIGCHLD, no CLONE_THREAD: a fork
            unshare=raw("unshare", 0x40000000),
            ptrace=raw("ptrace", 16, 1, 0, 0),  # PTRACE_ATTACH to init
            io_uring=raw("io_uring_setup", 8, 0),
            bpf=raw("bpf", 0, 0, 0),
            mount=raw("mount", 0, 0, 0, 0, 0),
            setuid=raw("setuid", 0),
            getpid=raw("getpid"),
        )
        """
    )
    out = result_of(done)
    assert out["clone3"] == [-1, 38]  # ENOSYS: glibc falls back to clone
    for name in ("clone_process", "unshare", "ptrace", "io_uring", "bpf", "mount", "setuid"):
        assert out[name] == [-1, 1], name  # EPERM
    assert out["getpid"][0] > 0


@pytest.mark.skipif(
    not LINUX or os.uname().machine != "x86_64", reason="x32/i386 ABI exists on x86_64 only"
)
def test_seccomp_other_abi_kills_the_process(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"])
        print("LOADED", flush=True)
        libc.syscall(ctypes.c_long(0x40000000 | 57))  # fork through the x32 ABI
        report(survived=True)
        """
    )
    assert "LOADED" in done.stdout
    assert done.returncode == -signal.SIGSYS, done.stderr


def test_seccomp_signals_only_to_self(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    victim = subprocess.Popen(["sleep", "30"])
    try:
        done = run_child(
            f"""
            import signal
            got = []
            signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
            apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"])
            other = attempt(lambda: os.kill({victim.pid}, signal.SIGKILL))
            everyone = attempt(lambda: os.kill(-1, 0))
            group = attempt(lambda: os.kill(0, 0))
            own = attempt(lambda: os.kill(os.getpid(), signal.SIGUSR1))
            raised = attempt(lambda: signal.raise_signal(signal.SIGUSR1))
            report(other=other, everyone=everyone, group=group, own=own, raised=raised, got=got)
            """
        )
        out = result_of(done)
        assert victim.poll() is None  # still alive
    finally:
        victim.kill()
        victim.wait()
    for what in ("other", "everyone", "group"):
        assert out[what]["type"] == "PermissionError", what
    assert out["own"]["ok"] and out["raised"]["ok"]
    assert out["got"] == [1, 1]


def test_seccomp_limits_cannot_be_raised(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        import resource
        apply_isolation(limits=Limits(address_space_bytes=2**30), network=False, seccomp=True,
                        required=["seccomp", "rlimits"])
        inf = resource.RLIM_INFINITY
        raise_as = attempt(lambda: resource.setrlimit(resource.RLIMIT_AS, (inf, inf)))
        raise_cpu = attempt(lambda: resource.setrlimit(resource.RLIMIT_CPU, (inf, inf)))
        report(raise_as=raise_as, raise_cpu=raise_cpu, now=resource.getrlimit(resource.RLIMIT_AS))
        """
    )
    out = result_of(done)
    assert out["raise_as"]["ok"] is False  # resource turns EPERM into ValueError
    assert out["raise_cpu"]["ok"] is False
    assert out["now"] == [2**30, 2**30]


# --- files ----------------------------------------------------------------------------------------


def test_file_writes_denied(layers: dict[str, LayerReport], tmp_path: Path) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    (tmp_path / "fresh_module.py").write_text("VALUE = 41 + 1\n")
    target = tmp_path / "x"
    done = run_child(
        f"""
        apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"])
        sys.path.insert(0, {str(tmp_path)!r})
        def new_module():
            import fresh_module
            return fresh_module.VALUE
        report(
            write=attempt(lambda: open({str(target)!r}, "w")),
            tmp=attempt(lambda: open("/tmp/x", "w")),
            append=attempt(lambda: open({str(existing)!r}, "a")),
            rdwr=attempt(lambda: os.open({str(existing)!r}, os.O_RDWR)),
            unlink=attempt(lambda: os.unlink({str(existing)!r})),
            rename=attempt(lambda: os.rename({str(existing)!r}, {str(target)!r})),
            mkdir=attempt(lambda: os.mkdir({str(tmp_path / "d")!r})),
            chmod=attempt(lambda: os.chmod({str(existing)!r}, 0o777)),
            read=attempt(lambda: open({str(existing)!r}).read()),
            module=attempt(new_module),
        )
        """
    )
    out = result_of(done)
    for what in ("write", "tmp", "append", "rdwr", "unlink", "rename", "mkdir", "chmod"):
        assert out[what]["type"] == "PermissionError", what
        assert out[what]["errno"] == 13, what  # EACCES
    assert out["read"] == {"ok": True, "value": "keep me"}
    assert out["module"] == {"ok": True, "value": 42}  # imports work, .pyc writes fail softly
    assert not target.exists()
    assert existing.read_text() == "keep me"
    assert not (tmp_path / "__pycache__").exists()
    assert oct(existing.stat().st_mode & 0o777) != oct(0o777)


def test_file_size_zero_fails_writes_without_killing(
    layers: dict[str, LayerReport], tmp_path: Path
) -> None:
    if unavailable_layer_is_refused("rlimits", layers):
        return
    target = tmp_path / "big.bin"
    done = run_child(
        f"""
        apply_isolation(limits=Limits(file_size_bytes=0), network=False, seccomp=True,
                        deny_file_writes=False, required=["rlimits", "seccomp"])
        def write():
            with open({str(target)!r}, "wb", buffering=0) as f:
                return f.write(b"x" * 4096)
        report(write=attempt(write), alive=True)
        """
    )
    out = result_of(done)
    assert out["write"] == {"ok": False, "type": "OSError", "errno": 27}  # EFBIG, not SIGXFSZ
    assert out["alive"]
    assert target.exists() and target.stat().st_size == 0


# --- rlimits --------------------------------------------------------------------------------------


def test_address_space_limit_raises_memory_error(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("rlimits", layers):
        return
    done = run_child(
        """
        import numpy as np
        apply_isolation(limits=Limits(address_space_bytes=2**30), network=False, seccomp=False,
                        required=["rlimits"])
        big = attempt(lambda: len(bytearray(3 * 2**30)))
        big_np = attempt(lambda: np.ones(2**28).nbytes)  # 2 GiB of float64
        small = attempt(lambda: float(np.ones(10**6).sum()))
        report(big=big, big_np=big_np, small=small)
        """
    )
    out = result_of(done)
    assert out["big"]["type"] == "MemoryError"
    assert out["big_np"]["type"] == "MemoryError"  # numpy._core._exceptions._ArrayMemoryError
    assert out["small"] == {"ok": True, "value": 1e6}


def test_cpu_limit_kills_a_busy_loop(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("rlimits", layers):
        return
    started = time.monotonic()
    done = run_child(
        """
        apply_isolation(limits=Limits(cpu_seconds=1), network=False, seccomp=True,
                        required=["rlimits"])
        print("LOOPING", flush=True)
        while True:
            pass
        """,
        timeout=20,
    )
    elapsed = time.monotonic() - started
    assert "LOOPING" in done.stdout
    assert done.returncode in (-signal.SIGXCPU, -signal.SIGKILL), done.stderr
    assert elapsed < 6.0


def test_open_files_and_recursion_limit(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("rlimits", layers):
        return
    done = run_child(
        """
        import resource
        apply_isolation(limits=Limits(open_files=32, recursion_limit=150), network=False,
                        seccomp=True, required=["rlimits"])
        def deep(n):
            return deep(n + 1)
        def exhaust():
            held = []
            try:
                while True:
                    held.append(open("/dev/null"))
            finally:
                for f in held:
                    f.close()
        report(
            recursion=sys.getrecursionlimit(),
            deep=attempt(lambda: deep(0)),
            nofile=resource.getrlimit(resource.RLIMIT_NOFILE),
            core=resource.getrlimit(resource.RLIMIT_CORE),
            fds=attempt(exhaust),
        )
        """
    )
    out = result_of(done)
    assert out["recursion"] == 150
    assert out["deep"]["type"] == "RecursionError"
    assert out["nofile"][0] >= 32 and out["nofile"][0] == out["nofile"][1]
    assert out["core"] == [0, 0]
    assert out["fds"]["errno"] == 24  # EMFILE


# --- required layers and argument checks ----------------------------------------------------------


def test_required_layer_that_cannot_be_applied_raises(layers: dict[str, LayerReport]) -> None:
    """After a first seccomp filter, unshare is denied: a second call requiring netns must raise."""
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"])
        try:
            apply_isolation(limits=Limits(), network=True, seccomp=False, required=["netns"],
                            level="strict")
        except IsolationUnavailable as exc:
            report(level=exc.level, missing=list(exc.missing), text=str(exc))
        """
    )
    out = result_of(done)
    assert out["level"] == "strict"
    assert len(out["missing"]) == 1 and out["missing"][0].startswith("netns: ")
    assert "EPERM" in out["missing"][0]
    assert "vlmcar doctor" in out["text"]


def test_not_required_layer_fails_soft(layers: dict[str, LayerReport]) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        """
        apply_isolation(limits=Limits(), network=False, seccomp=True)
        reports = apply_isolation(limits=Limits(), network=True, seccomp=False)
        report(reports={r.name: [r.available, r.detail] for r in reports})
        """
    )
    reports = result_of(done)["reports"]
    assert reports["netns"][0] is False and "unshare" in reports["netns"][1]
    assert reports["thread_pinning"][0] is True


def test_required_arguments_are_checked_before_anything_is_applied() -> None:
    done = run_child(
        """
        bad = {}
        for kwargs in (
            dict(network=True, seccomp=True, required=["firewall"]),
            dict(network=False, seccomp=True, required=["netns"]),
            dict(network=True, seccomp=False, required=["seccomp"]),
        ):
            try:
                apply_isolation(limits=Limits(), **kwargs)
            except ValueError as exc:
                bad[str(kwargs["required"])] = str(exc)
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        report(bad=bad, seccomp=status["Seccomp"].strip(), recursion=sys.getrecursionlimit())
        """
    )
    out = result_of(done)
    assert len(out["bad"]) == 3
    assert "firewall" in out["bad"]["['firewall']"]
    assert out["seccomp"] == "0"  # nothing was applied
    assert out["recursion"] == 1000


# --- the worker's real set-up: spawn, inherited pipe, shared memory -------------------------------

SCENARIO = """\
import json, sys
from multiprocessing import get_context, shared_memory
import numpy as np

def worker(conn, frames_name, later_name, deny):
    from sandbox.oslimits import Limits, apply_isolation
    frames = shared_memory.SharedMemory(name=frames_name)  # attached BEFORE isolation
    apply_isolation(limits=Limits(), network=True, seccomp=True, deny_file_writes=deny,
                    required=["netns", "no_new_privs", "rlimits", "seccomp"])
    out = {"msg": conn.recv()}
    batch = np.ndarray((4, 8, 8, 3), dtype=np.uint8, buffer=frames.buf)
    out["sum"] = int(batch.sum())
    batch[0, 0, 0, 0] = 7  # the mapping stays writable
    del batch
    try:
        later = shared_memory.SharedMemory(name=later_name)  # attached AFTER isolation
    except BaseException as exc:
        out["attach_after"] = [type(exc).__name__, getattr(exc, "errno", None)]
    else:
        out["attach_after"] = ["ok", later.buf[0]]
        later.close()
    conn.send(out)
    frames.close()

if __name__ == "__main__":
    deny = sys.argv[1] == "deny"
    ctx = get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    frames = shared_memory.SharedMemory(create=True, size=4 * 8 * 8 * 3)
    frames.buf[:] = b"\\x01" * frames.size
    later = shared_memory.SharedMemory(create=True, size=16)
    later.buf[0] = 42
    try:
        proc = ctx.Process(target=worker, args=(child_end, frames.name, later.name, deny))
        proc.start()
        parent_end.send("hello")
        out = parent_end.recv() if parent_end.poll(20) else {"error": "no answer"}
        proc.join(20)
        out["exitcode"] = proc.exitcode
        out["written_back"] = frames.buf[0]
        print("RESULT " + json.dumps(out), flush=True)
    finally:
        frames.close(); frames.unlink(); later.close(); later.unlink()
"""


@pytest.mark.parametrize("deny", ["deny", "allow"])
def test_spawned_worker_keeps_pipe_and_attached_shared_memory(
    layers: dict[str, LayerReport], tmp_path: Path, deny: str
) -> None:
    if unavailable_layer_is_refused("seccomp", layers):
        return
    script = tmp_path / "scenario.py"
    script.write_text(SCENARIO)
    done = subprocess.run(
        [sys.executable, str(script), deny],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        cwd=tmp_path,
        check=False,
    )
    out = result_of(done)
    assert out["msg"] == "hello"
    assert out["sum"] == 4 * 8 * 8 * 3
    assert out["written_back"] == 7
    assert out["exitcode"] == 0
    if deny == "deny":
        # shm_open is open(O_RDWR): denied by the write filter, so attach every block first.
        assert out["attach_after"] == ["PermissionError", 13]
    else:
        # Without the write filter it works: the resource tracker is already running (spawn passed
        # its pipe), so registering the block does not need a new process.
        assert out["attach_after"] == ["ok", 42]
