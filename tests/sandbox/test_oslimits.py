"""Tests of :mod:`sandbox.oslimits` with real processes, rlimits, namespaces and seccomp (no mocks).

Every isolation test runs in a fresh child interpreter, because isolation is irreversible: the child
applies the layers, tries the forbidden thing and prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sandbox.oslimits import (
    LAYERS,
    LayerReport,
    Limits,
    pinned_thread_env,
    probe,
    required_layers,
)
from tests.sandbox.oschild import (
    LINUX,
    ROOT,
    child_env,
    result_of,
    run_child,
    unavailable_layer_is_refused,
)

MODULE = ROOT / "sandbox" / "oslimits.py"


@pytest.fixture(scope="module")
def layers() -> dict[str, LayerReport]:
    return {r.name: r for r in probe()}


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
    reports = probe(fresh=True)
    assert [r.name for r in reports] == [*LAYERS, "seal"]
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


def test_a_complete_probe_is_kept_and_fresh_probes_again() -> None:
    first = probe(fresh=True)
    assert probe() is first or not all(  # kept, unless the child lost a report under load
        r.available or "before reporting" not in r.detail for r in first
    )
    again = probe(fresh=True)
    assert again is not first and [r.name for r in again] == [r.name for r in first]


def test_probe_when_not_linux_or_root(layers: dict[str, LayerReport]) -> None:
    assert layers["thread_pinning"].available
    if not LINUX:
        assert not any(layers[n].available for n in LAYERS if n != "thread_pinning")
    elif os.geteuid() == 0:
        # root on Linux: every layer must work, so the tests below really exercise them.
        assert all(r.available for r in layers.values()), layers
        assert "CLONE_NEWNET" in layers["netns"].detail
        assert "CLONE_NEWIPC" in layers["ipcns"].detail
        assert "Landlock ABI" in layers["landlock"].detail
        assert "all capabilities dropped" in layers["privileges"].detail
        assert "libseccomp" in layers["seccomp"].detail
        assert "PROT_EXEC" in layers["seal"].detail


def test_required_layers_follow_what_the_kernel_supports(layers: dict[str, LayerReport]) -> None:
    always = ["netns", "no_new_privs", "rlimits", "seccomp"]
    here = required_layers(tuple(layers.values()))
    assert set(always) <= set(here)
    for name in ("ipcns", "landlock", "privileges"):
        assert (name in here) == layers[name].available, name
    assert list(here) == [n for n in LAYERS if n in here]  # in the order applied
    nothing = [LayerReport(n, False, "missing") for n in LAYERS]
    assert required_layers(nothing) == tuple(always)
    everything = [LayerReport(n, True, "ok") for n in LAYERS]
    assert required_layers(everything) == tuple(n for n in LAYERS if n != "thread_pinning")


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
            reports = apply_isolation(  # Landlock off: it would deny the connect itself
                limits=Limits(), network=True, seccomp=False, required=["netns"], landlock=False
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


# --- ipcns ----------------------------------------------------------------------------------------

IPC_OBJECTS = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
def made(rc):
    return [rc, ctypes.get_errno()]
key = {key}
created = dict(
    shm=made(libc.shmget(key, 4096, 0o1600)),  # IPC_CREAT | 0600
    msg=made(libc.msgget(key, 0o1600)),
    sem=made(libc.semget(key, 1, 0o1600)),
    mq=made(libc.mq_open({queue!r}, 0o102, 0o600, None)),  # O_CREAT | O_RDWR
)
"""


def _sysv_objects() -> dict[str, list[str]]:
    """The SysV IPC objects of this IPC namespace (what ``ipcs`` lists), one line each."""
    return {
        kind: Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        for kind in ("shm", "msg", "sem")
    }


def _mq_exists(name: bytes) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
    fd = libc.mq_open(name, 0)  # O_RDONLY, no O_CREAT
    if fd >= 0:
        libc.mq_close(fd)
        libc.mq_unlink(name)
        return True
    return False


@pytest.mark.skipif(not LINUX, reason="SysV IPC namespaces are Linux-only")
def test_ipc_objects_die_with_the_worker(layers: dict[str, LayerReport]) -> None:
    """Objects made inside the IPC namespace are gone when the worker ends; a control leaks."""
    if unavailable_layer_is_refused("ipcns", layers):
        return
    key, queue = 0x7E570000 + os.getpid() % 0xFFFF, f"/vlmcar-test-{os.getpid()}".encode()
    before = _sysv_objects()
    done = run_child(
        IPC_OBJECTS.format(key=key, queue=queue)
        + """
report(created=created)
""",
        import_sandbox=False,
    )
    control = result_of(done)["created"]  # no namespace: these outlive the child
    assert all(rc >= 0 for rc, _ in control.values()), control
    leaked = _sysv_objects()
    assert all(len(leaked[k]) == len(before[k]) + 1 for k in before), leaked
    assert _mq_exists(queue)  # (and unlinks it)
    for line in leaked["shm"][len(before["shm"]) :]:
        subprocess.run(["ipcrm", "-m", line.split()[1]], check=True)
    for line in leaked["msg"][len(before["msg"]) :]:
        subprocess.run(["ipcrm", "-q", line.split()[1]], check=True)
    for line in leaked["sem"][len(before["sem"]) :]:
        subprocess.run(["ipcrm", "-s", line.split()[1]], check=True)
    assert _sysv_objects() == before

    done = run_child(
        """
        reports = apply_isolation(limits=Limits(), network=False, seccomp=False,
                                  landlock=False, privileges=False, required=["ipcns"])
        """
        + textwrap.indent(IPC_OBJECTS.format(key=key, queue=queue), "        ")
        + """
        report(created=created, layers=[r.name for r in reports if r.available])
        """
    )
    out = result_of(done)
    assert all(rc >= 0 for rc, _ in out["created"].values()), out  # made, in its own namespace
    assert "ipcns" in out["layers"]
    assert _sysv_objects() == before
    assert not _mq_exists(queue)


# --- parent-death signal --------------------------------------------------------------------------

# The middle process starts two grandchildren (one arms the parent-death signal, one does not),
# prints their pids and waits to be killed.
FAMILY = f"""
import subprocess, sys, time
sys.path.insert(0, {str(ROOT)!r})
armed = subprocess.Popen([sys.executable, "-c", "import os, sys, time; "
    "sys.path.insert(0, {str(ROOT)!r}); "
    "from sandbox.oslimits import set_parent_death_signal; "
    "set_parent_death_signal(os.getppid()); print('ARMED', flush=True); time.sleep(60)"],
    stdout=subprocess.PIPE, text=True)
assert armed.stdout.readline().strip() == "ARMED"
plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(armed.pid, plain.pid, flush=True)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (no such process, or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux-only")
def test_parent_death_signal_kills_the_orphan() -> None:
    middle = subprocess.Popen(
        [sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True, env=child_env()
    )
    assert middle.stdout is not None
    armed, plain = (int(p) for p in middle.stdout.readline().split())
    try:
        middle.kill()
        middle.wait(10)
        for _ in range(200):  # the kernel delivers SIGKILL at once; allow a slow machine 10 s
            if _gone(armed):
                break
            time.sleep(0.05)
        assert _gone(armed), "the armed grandchild outlived its parent"
        assert not _gone(plain)  # the control: without the signal an orphan lives on
    finally:
        for pid in (armed, plain):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_parent_death_signal_exits_when_the_parent_is_already_gone() -> None:
    done = run_child(
        """
        from sandbox.oslimits import set_parent_death_signal
        print("BEFORE", flush=True)
        set_parent_death_signal(os.getppid() + 1)  # not our parent: as if it had died already
        print("AFTER", flush=True)
        """,
        import_sandbox=False,
        bare=True,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.split() == ["BEFORE"]


def test_parent_death_signal_survives_isolation() -> None:
    done = run_child(
        """
        import ctypes
        from sandbox.oslimits import set_parent_death_signal
        detail = set_parent_death_signal(os.getppid())
        apply_isolation(limits=Limits(), network=True, seccomp=True)
        libc = ctypes.CDLL(None, use_errno=True)
        armed = ctypes.c_int(0)
        libc.prctl(2, ctypes.byref(armed), 0, 0, 0)  # PR_GET_PDEATHSIG
        report(detail=detail, armed=armed.value)
        """
    )
    out = result_of(done)
    assert out["armed"] == signal.SIGKILL
    assert "PR_SET_PDEATHSIG(SIGKILL)" in out["detail"]


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
        # Landlock off: /proc/self/status is read below (Landlock's own tests are elsewhere).
        reports = apply_isolation(limits=Limits(), network=False, seccomp=True,
                                  required=["seccomp", "no_new_privs", "rlimits"],
                                  landlock=False, privileges=False, ipc=False)
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
    # `import sandbox` imports numpy: load sandbox.oslimits without the package __init__.
    done = run_child(
        """
        from sandbox.oslimits import Limits, apply_isolation
        numpy_before = "numpy" in sys.modules
        apply_isolation(limits=Limits(), network=True, seccomp=True, required=["seccomp"],
                        landlock=False)  # Landlock off: /proc/self/status is read below
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
        bare=True,
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
        from sandbox.libseccomp import LibSeccomp
        lib = LibSeccomp()
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
            clone_thread_in_new_ns=raw("clone", 0x00010000 | 0x40000000, 0, 0, 0, 0),
            execve=raw("execve", 0, 0, 0),
            socket=raw("socket", 2, 1, 0),
            unshare=raw("unshare", 0x40000000),
            setns=raw("setns", 0, 0),
            ptrace=raw("ptrace", 16, 1, 0, 0),  # PTRACE_ATTACH to init
            process_vm_readv=raw("process_vm_readv", 1, 0, 0, 0, 0, 0),
            io_uring=raw("io_uring_setup", 8, 0),
            bpf=raw("bpf", 0, 0, 0),
            keyctl=raw("keyctl", 0, 0, 0, 0, 0),
            mount=raw("mount", 0, 0, 0, 0, 0),
            setuid=raw("setuid", 0),
            kill_init=raw("kill", 1, 0),
            shmget=raw("shmget", 0, 4096, 0o1600),  # IPC_PRIVATE, IPC_CREAT | 0600
            msgget=raw("msgget", 0, 0o1600),
            semget=raw("semget", 0, 1, 0o1600),
            mq_open=raw("mq_open", 0, 0o100, 0o600, 0),
            memfd_create=raw("memfd_create", 0, 0),
            userfaultfd=raw("userfaultfd", 0),
            set_owner=raw("fcntl", 0, 8, os.getpid()),  # F_SETOWN: SIGIO to a chosen process
            tiocsti=raw("ioctl", 0, 0x5412, 0),
            tcgets=raw("ioctl", 0, 0x5401, 0),  # allowed: the kernel answers ENOTTY for /dev/null
            read_own_limit=raw("prlimit64", 0, 7, 0, 0),
            read_init_limit=raw("prlimit64", 1, 7, 0, 0),
            set_init_limit=raw("prlimit64", 1, 7, 1, 0),
            mlock=raw("mlock", 0, 0),  # not on the allow-list: the default answer
            sync=raw("sync"),
            getpid=raw("getpid"),
        )
        """,
        timeout=60,
    )
    out = result_of(done)
    assert out["clone3"] == [-1, errno.ENOSYS]  # glibc falls back to clone
    for name in (
        "clone_process", "clone_thread_in_new_ns", "execve", "socket", "unshare", "setns",
        "ptrace", "process_vm_readv", "io_uring", "bpf", "keyctl", "mount", "setuid", "kill_init",
        "shmget", "msgget", "semget", "mq_open", "memfd_create", "userfaultfd", "set_owner",
        "tiocsti",
    ):  # fmt: skip
        assert out[name] == [-1, errno.EPERM], name
    for name in ("mlock", "sync", "read_init_limit"):
        assert out[name] == [-1, errno.ENOSYS], name
    assert out["tcgets"] == [-1, errno.ENOTTY]
    assert out["set_init_limit"][0] == -1 and out["set_init_limit"][1] in (
        errno.EPERM,
        errno.ENOSYS,
    )
    assert out["read_own_limit"] == [0, 0]
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


@pytest.mark.parametrize("privileges", [True, False], ids=["no-capabilities", "capabilities-kept"])
def test_seccomp_limits_cannot_be_raised(layers: dict[str, LayerReport], privileges: bool) -> None:
    """Raising fails either way; lowering works once no capability is left (the kernel's rule)."""
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        f"""
        import resource
        reports = apply_isolation(limits=Limits(address_space_bytes=2**30,
                                                file_size_bytes=1 << 20), network=False,
                                  seccomp=True, privileges={privileges!r},
                                  required=["seccomp", "rlimits"])
        inf = resource.RLIM_INFINITY
        FSIZE = resource.RLIMIT_FSIZE
        raise_as = attempt(lambda: resource.setrlimit(resource.RLIMIT_AS, (inf, inf)))
        raise_cpu = attempt(lambda: resource.setrlimit(resource.RLIMIT_CPU, (inf, inf)))
        lower = attempt(lambda: resource.setrlimit(FSIZE, (0, 0)))
        raise_back = attempt(lambda: resource.setrlimit(FSIZE, (1 << 20, 1 << 20)))
        report(raise_as=raise_as, raise_cpu=raise_cpu, lower=lower, raise_back=raise_back,
               now=resource.getrlimit(resource.RLIMIT_AS), fsize=resource.getrlimit(FSIZE),
               dropped=any(r.name == "privileges" and r.available for r in reports))
        """
    )
    out = result_of(done)
    for what in ("raise_as", "raise_cpu", "raise_back"):
        assert out[what]["ok"] is False, what  # resource turns EPERM into ValueError
    assert out["now"] == [2**30, 2**30]
    if out["dropped"]:
        assert out["lower"]["ok"] and out["fsize"] == [0, 0]
    else:
        assert not out["lower"]["ok"] and out["fsize"] == [1 << 20, 1 << 20]
    if privileges and os.geteuid() == 0:
        assert out["dropped"]


# --- files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("landlock", [False, True], ids=["seccomp-alone", "with-landlock"])
def test_file_writes_denied(layers: dict[str, LayerReport], tmp_path: Path, landlock: bool) -> None:
    """The filter alone stops writes in a readable directory; with Landlock both do."""
    if unavailable_layer_is_refused("seccomp", layers):
        return
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    (tmp_path / "fresh_module.py").write_text("VALUE = 41 + 1\n")
    target = tmp_path / "x"
    done = run_child(
        f"""
        apply_isolation(limits=Limits(), network=False, seccomp=True, required=["seccomp"],
                        landlock={landlock!r},
                        read_paths=[*default_read_paths(), {str(tmp_path)!r}])
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
                        write_paths=[{str(tmp_path)!r}], required=["rlimits", "seccomp"])
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
    assert "LOOPING" in done.stdout
    assert done.returncode in (-signal.SIGXCPU, -signal.SIGKILL), done.stderr


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
            dict(network=True, seccomp=True, landlock=False, required=["landlock"]),
            dict(network=True, seccomp=True, privileges=False, required=["privileges"]),
            dict(network=True, seccomp=True, ipc=False, required=["ipcns"]),
        ):
            try:
                apply_isolation(limits=Limits(), **kwargs)
            except ValueError as exc:
                bad[str(kwargs["required"])] = str(exc)
            else:
                bad[str(kwargs["required"])] = "accepted"
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        report(bad=bad, seccomp=status["Seccomp"].strip(), recursion=sys.getrecursionlimit(),
               caps=status["CapEff"].strip(), netns=os.readlink("/proc/self/ns/net"))
        """
    )
    out = result_of(done)
    assert len(out["bad"]) == 6
    assert "firewall" in out["bad"]["['firewall']"]
    for name in ("netns", "seccomp", "landlock", "privileges", "ipcns"):
        assert "not requested" in out["bad"][str([name])], name
    assert out["seccomp"] == "0"  # nothing was applied
    assert out["recursion"] == 1000
    assert out["netns"] == os.readlink("/proc/self/ns/net")
    if os.geteuid() == 0:
        assert out["caps"] != "0000000000000000"


# --- the worker's real set-up: spawn, inherited pipe, shared memory -------------------------------

SCENARIO = """\
import json, sys
from multiprocessing import get_context, shared_memory
import numpy as np

def worker(conn, frames_name, later_name, deny):
    from sandbox.oslimits import Limits, apply_isolation
    frames = shared_memory.SharedMemory(name=frames_name)  # attached BEFORE isolation
    # "allow": no write filter and no Landlock (which would hide /dev/shm).
    apply_isolation(limits=Limits(), network=True, seccomp=True, deny_file_writes=deny,
                    landlock=deny, required=["netns", "no_new_privs", "rlimits", "seccomp"])
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
        # shm_open is open(O_RDWR) in /dev/shm: denied by the write filter and by Landlock
        # (which does not let the worker even read /dev/shm), so attach every block first.
        assert out["attach_after"] == ["PermissionError", 13]
    else:
        # Without the write filter it works: the resource tracker is already running (spawn passed
        # its pipe), so registering the block does not need a new process.
        assert out["attach_after"] == ["ok", 42]
