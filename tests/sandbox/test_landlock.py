"""Tests of :mod:`sandbox.landlock`: the read wall and the write wall, with the real kernel feature.

Each test isolates a fresh child (the layers are irreversible) and reports what it could still
reach. The things a red team read from a strict worker in the second round (``/etc/shadow``, the
trainer's ``/proc/<ppid>/environ`` and ``/proc/<ppid>/mem``, segments in ``/dev/shm``, files in
``/tmp``) are each tried here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.landlock import _fs_rights
from sandbox.oslimits import LayerReport, probe
from tests.sandbox.oschild import LINUX, result_of, run_child, unavailable_layer_is_refused

STRICT = ["netns", "ipcns", "landlock", "privileges", "no_new_privs", "rlimits", "seccomp"]


@pytest.fixture(scope="module")
def layers() -> dict[str, LayerReport]:
    return {r.name: r for r in probe()}


@pytest.fixture
def planted() -> Iterator[dict[str, Path]]:
    """Secrets outside every allowed path: a file in /tmp and a segment in /dev/shm."""
    tag = uuid.uuid4().hex[:12]
    paths = {"tmp": Path(f"/tmp/vlmcar-secret-{tag}"), "shm": Path(f"/dev/shm/vlmcar-frames-{tag}")}
    for path in paths.values():
        path.write_text("secret")
    yield paths
    for path in paths.values():
        path.unlink(missing_ok=True)


def test_fs_rights_are_masked_to_the_abi() -> None:
    assert _fs_rights(1) == (1 << 13) - 1  # EXECUTE .. MAKE_SYM
    assert _fs_rights(2) == (1 << 14) - 1  # + REFER
    assert _fs_rights(3) == _fs_rights(4) == (1 << 15) - 1  # + TRUNCATE
    assert _fs_rights(5) == _fs_rights(7) == (1 << 16) - 1  # + IOCTL_DEV


def test_default_read_paths_cover_the_interpreter_and_resolve_symlinks(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    done = run_child(
        """
        import sysconfig
        paths = default_read_paths()
        report(paths=list(paths), base=os.path.realpath(sys.base_prefix),
               prefix=os.path.realpath(sys.prefix),
               purelib=os.path.realpath(sysconfig.get_paths()["purelib"]),
               stdlib=os.path.realpath(sysconfig.get_paths()["stdlib"]))
        """,
        NUMBA_CACHE_DIR=str(cache),
    )
    out = result_of(done)
    paths = out["paths"]
    assert len(paths) == len(set(paths))
    for path in paths:
        assert os.path.isabs(path) and os.path.exists(path), path
        assert os.path.realpath(path) == path, f"{path} is not resolved"
    for needed in (out["base"], out["prefix"], out["stdlib"], "/etc/ld.so.cache"):
        assert needed in paths, needed
    assert any(out["purelib"].startswith(p) for p in paths)  # site-packages, under the venv
    assert str(Path(__file__).resolve().parents[2] / "sandbox") in paths
    assert "/usr/lib" in paths
    assert str(cache) in paths
    assert not any(p in paths for p in ("/", "/tmp", "/proc", "/etc", "/dev/shm", "/root"))


@pytest.mark.skipif(not LINUX, reason="Landlock is Linux-only")
def test_read_wall_under_strict_isolation(
    layers: dict[str, LayerReport], tmp_path: Path, planted: dict[str, Path]
) -> None:
    if unavailable_layer_is_refused("landlock", layers):
        return
    readable, writable, outside = tmp_path / "readable", tmp_path / "writable", tmp_path / "other"
    for d in (readable, writable, outside):
        d.mkdir()
    (readable / "data.txt").write_text("data")
    (outside / "other.txt").write_text("other")
    required = [name for name in STRICT if layers[name].available]
    done = run_child(
        f"""
        import numpy as np
        ppid = os.getppid()
        reports = apply_isolation(
            limits=Limits(file_size_bytes=1 << 20), network=True, seccomp=True,
            required={required!r},
            read_paths=[*default_read_paths(), {str(readable)!r}],
            write_paths=[{str(writable)!r}],
        )
        w = {str(writable)!r}
        def write_and_rename():
            with open(w + "/a.tmp", "w") as f:
                f.write("cache")
            os.mkdir(w + "/__pycache__")
            os.rename(w + "/a.tmp", w + "/__pycache__/a.nbi")
            with open(w + "/__pycache__/a.nbi") as f:
                text = f.read()
            os.unlink(w + "/__pycache__/a.nbi")
            return text
        def read(path):
            return lambda: open(path, "rb").read(16).decode("latin-1")
        def fresh_import():
            import colorsys  # not imported before isolation: read from the standard library
            return colorsys.rgb_to_hsv(1.0, 0.0, 0.0)[2]
        report(
            shadow=attempt(read("/etc/shadow")),
            passwd=attempt(read("/etc/passwd")),
            parent_environ=attempt(read(f"/proc/{{ppid}}/environ")),
            parent_mem=attempt(read(f"/proc/{{ppid}}/mem")),
            own_status=attempt(read("/proc/self/status")),
            tmp_file=attempt(read({str(planted["tmp"])!r})),
            shm_file=attempt(read({str(planted["shm"])!r})),
            shm_list=attempt(lambda: len(os.listdir("/dev/shm"))),
            other_dir=attempt(read({str(outside / "other.txt")!r})),
            readable=attempt(read({str(readable / "data.txt")!r})),
            readable_list=attempt(lambda: ",".join(os.listdir({str(readable)!r}))),
            readable_write=attempt(lambda: open({str(readable / "new.txt")!r}, "w")),
            writable=attempt(write_and_rename),
            symlink=attempt(lambda: os.symlink("/etc/shadow", w + "/link")),
            fifo=attempt(lambda: os.mkfifo(w + "/fifo")),
            tmp_write=attempt(lambda: open("/tmp/vlmcar-escape", "w")),
            dev_null=attempt(lambda: open("/dev/null", "rb").read()),
            urandom=attempt(lambda: len(open("/dev/urandom", "rb").read(8))),
            numpy=attempt(lambda: float(np.linalg.norm(np.ones(4)))),
            fresh_import=attempt(fresh_import),
            landlock=[r.detail for r in reports if r.name == "landlock"][0],
        )
        """
    )
    out = result_of(done)
    denied = {"ok": False, "type": "PermissionError", "errno": 13}
    for what in (
        "shadow", "passwd", "parent_environ", "parent_mem", "own_status", "tmp_file", "shm_file",
        "shm_list", "other_dir", "readable_write", "symlink", "fifo", "tmp_write",
    ):  # fmt: skip
        assert out[what] == denied, what
    assert out["readable"] == {"ok": True, "value": "data"}
    assert out["readable_list"] == {"ok": True, "value": "data.txt"}
    assert out["writable"] == {"ok": True, "value": "cache"}
    assert out["dev_null"]["ok"] and out["urandom"] == {"ok": True, "value": 8}
    assert out["numpy"] == {"ok": True, "value": 2.0}
    assert out["fresh_import"] == {"ok": True, "value": 1.0}
    assert "Landlock ABI" in out["landlock"] and str(writable) in out["landlock"]
    assert not Path("/tmp/vlmcar-escape").exists()
    assert sorted(p.name for p in writable.iterdir()) == ["__pycache__"]


@pytest.mark.skipif(not LINUX, reason="Landlock is Linux-only")
def test_landlock_alone_denies_tcp_and_signals_out(layers: dict[str, LayerReport]) -> None:
    """No netns and no seccomp: Landlock's network rights and signal scope still hold (ABI 4, 6)."""
    if unavailable_layer_is_refused("landlock", layers):
        return
    abi = int(layers["landlock"].detail.split("ABI ")[1].split(":")[0])
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            done = run_child(
                f"""
                import socket
                def connect():
                    with socket.create_connection(("127.0.0.1", {port}), timeout=2):
                        return "connected"
                before = attempt(connect)
                apply_isolation(limits=Limits(), network=False, seccomp=False, ipc=False,
                                privileges=False, required=["landlock"])
                report(before=before, after=attempt(connect),
                       signal=attempt(lambda: os.kill({victim.pid}, 0)),
                       own=attempt(lambda: os.kill(os.getpid(), 0)))
                """
            )
        out = result_of(done)
    finally:
        victim.kill()
        victim.wait()
    assert out["before"] == {"ok": True, "value": "connected"}
    assert out["own"]["ok"]
    if abi >= 4:
        assert out["after"] == {"ok": False, "type": "PermissionError", "errno": 13}
    if abi >= 6:
        assert out["signal"] == {"ok": False, "type": "PermissionError", "errno": 1}


@pytest.mark.skipif(not LINUX, reason="Landlock is Linux-only")
def test_write_paths_without_landlock_fail_closed(
    layers: dict[str, LayerReport], tmp_path: Path
) -> None:
    """Write paths asked for but no Landlock to confine them: the filter denies every write."""
    if unavailable_layer_is_refused("seccomp", layers):
        return
    done = run_child(
        f"""
        reports = apply_isolation(limits=Limits(file_size_bytes=1 << 20), network=True,
                                  seccomp=True, landlock=False, write_paths=[{str(tmp_path)!r}])
        report(write=attempt(lambda: open({str(tmp_path / "x")!r}, "w")),
               seccomp=[r.detail for r in reports if r.name == "seccomp"][0])
        """
    )
    out = result_of(done)
    assert out["write"] == {"ok": False, "type": "PermissionError", "errno": 13}
    assert "Landlock does not confine them" in out["seccomp"]
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(not LINUX, reason="Landlock is Linux-only")
def test_landlock_refuses_a_second_thread_and_a_missing_write_path(
    layers: dict[str, LayerReport], tmp_path: Path
) -> None:
    """Landlock confines the calling thread only: with another thread alive it must refuse."""
    if unavailable_layer_is_refused("landlock", layers):
        return
    missing = tmp_path / "not-there"
    done = run_child(
        f"""
        import threading
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        try:
            apply_isolation(limits=Limits(), network=False, seccomp=False, privileges=False,
                            required=["landlock"])
        except IsolationUnavailable as exc:
            threads = list(exc.missing)
        stop.set(); t.join()
        try:
            apply_isolation(limits=Limits(), network=False, seccomp=False, privileges=False,
                            required=["landlock"], write_paths=[{str(missing)!r}])
        except IsolationUnavailable as exc:
            path = list(exc.missing)
        report(threads=threads, path=path, still_reads=open("/etc/hostname").read() != "")
        """
    )
    out = result_of(done)
    assert len(out["threads"]) == 1 and "2 threads" in out["threads"][0]
    assert len(out["path"]) == 1 and str(missing) in out["path"][0]
    assert out["still_reads"]  # neither attempt enforced anything
