"""Tests of :mod:`sandbox.privileges`: no capabilities, and uid 65534 where the paths allow it.

The capability checks use ``capget`` and ``PR_CAPBSET_READ`` from inside the isolated child (both
are on the seccomp allow-list and need no file), and ``/proc/self/status`` where Landlock is off.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.landlock import default_read_paths
from sandbox.oslimits import LayerReport, probe
from sandbox.privileges import NOBODY, uid_drop_blocker
from tests.sandbox.oschild import LINUX, ROOT, result_of, run_child, unavailable_layer_is_refused

ROOT_ONLY = pytest.mark.skipif(not LINUX or os.geteuid() != 0, reason="needs root: caps to drop")

CAPS = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def capabilities():
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    assert libc.capget(header, data) == 0
    bounding = [c for c in range(64) if libc.prctl(23, c, 0, 0, 0) == 1]  # PR_CAPBSET_READ
    return {"effective": data[0] | data[3] << 32, "permitted": data[1] | data[4] << 32,
            "inheritable": data[2] | data[5] << 32, "bounding": len(bounding),
            "securebits": libc.prctl(27, 0, 0, 0, 0)}  # PR_GET_SECUREBITS
"""


@pytest.fixture(scope="module")
def layers() -> dict[str, LayerReport]:
    return {r.name: r for r in probe()}


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A fresh directory directly in /tmp (pytest's own lives beneath a mode-0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="vlmcar-privileges-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@ROOT_ONLY
def test_strict_worker_holds_no_capability(layers: dict[str, LayerReport], tmp_path: Path) -> None:
    if unavailable_layer_is_refused("privileges", layers):
        return
    private = tmp_path / "private.txt"  # another user's file, mode 0600
    private.write_text("theirs")
    os.chown(private, 4321, 4321)
    private.chmod(0o600)
    done = run_child(
        CAPS
        + f"""
before = capabilities()
could_read = open({str(private)!r}).read()  # CAP_DAC_OVERRIDE, before the drop
reports = apply_isolation(limits=Limits(), network=True, seccomp=True,
                          read_paths=[*default_read_paths(), {str(tmp_path)!r}],
                          required=["privileges", "seccomp"])
report(before=before, after=capabilities(), could_read=could_read,
       read_now=attempt(lambda: open({str(private)!r}).read()),
       uid=os.getresuid(), gid=os.getresgid(), groups=os.getgroups(),
       detail=[r.detail for r in reports if r.name == "privileges"][0])
"""
    )
    out = result_of(done)
    assert out["before"]["effective"] != 0 and out["before"]["bounding"] > 30
    assert out["after"] == {
        "effective": 0,
        "permitted": 0,
        "inheritable": 0,
        "bounding": 0,
        "securebits": 0b11101111,  # NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE + locks
    }
    assert out["could_read"] == "theirs"
    assert out["read_now"] == {"ok": False, "type": "PermissionError", "errno": 13}
    blocker = uid_drop_blocker(default_read_paths(), [])
    if blocker is None:
        assert out["uid"] == [NOBODY] * 3 and out["gid"] == [NOBODY] * 3 and out["groups"] == []
    else:  # e.g. the interpreter lives beneath /root (mode 0700): uid 0 without capabilities
        assert out["uid"] == [0, 0, 0]
        assert "uid 0 kept" in out["detail"] and "not readable by uid 65534" in out["detail"]


@ROOT_ONLY
def test_status_shows_every_capability_set_empty(layers: dict[str, LayerReport]) -> None:
    """The kernel's own view (Landlock off, so that /proc/self/status stays readable)."""
    if unavailable_layer_is_refused("privileges", layers):
        return
    done = run_child(
        """
        apply_isolation(limits=Limits(), network=True, seccomp=True, landlock=False,
                        required=["privileges"])
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        report(**{k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                                  "CapAmb", "NoNewPrivs")})
        """
    )
    out = result_of(done)
    assert out == {
        "CapInh": "0" * 16,
        "CapPrm": "0" * 16,
        "CapEff": "0" * 16,
        "CapBnd": "0" * 16,
        "CapAmb": "0" * 16,
        "NoNewPrivs": "1",
    }


def _world_readable_python() -> str | None:
    """A system interpreter (no venv beneath /root) that uid 65534 could run, if there is one."""
    for name in ("/usr/bin/python3.11", "/usr/bin/python3"):
        path = shutil.which(name)
        if path and uid_drop_blocker([os.path.realpath(path), "/usr/lib"]) is None:
            return path
    return None


@ROOT_ONLY
def test_uid_drops_to_nobody_where_the_interpreter_is_readable(
    layers: dict[str, LayerReport], public_tmp: Path
) -> None:
    """A system Python (stdlib only: sandbox.* loads without its package __init__)."""
    if unavailable_layer_is_refused("privileges", layers):
        return
    python = _world_readable_python()
    if python is None:
        pytest.skip("no system Python readable by uid 65534 on this machine")
    if uid_drop_blocker([str(ROOT / "sandbox")]) is not None:
        pytest.skip(f"{ROOT} is not readable by uid 65534")
    writable = public_tmp / "kernels"
    writable.mkdir(mode=0o700)
    os.chown(writable, NOBODY, NOBODY)
    done = run_child(
        CAPS
        + f"""
from sandbox.oslimits import set_parent_death_signal
set_parent_death_signal(os.getppid())
paths = default_read_paths()
reports = apply_isolation(limits=Limits(file_size_bytes=4096), network=True, seccomp=True,
                          write_paths=[{str(writable)!r}], required=["privileges", "landlock"])
armed = ctypes.c_int(0)
libc.prctl(2, ctypes.byref(armed), 0, 0, 0)  # PR_GET_PDEATHSIG
def write():
    with open({str(writable / "k.nbi")!r}, "w") as f:
        return f.write("ok")
def fresh_import():
    import colorsys
    return colorsys.rgb_to_hsv(0.0, 1.0, 0.0)[2]
report(uid=os.getresuid(), gid=os.getresgid(), groups=os.getgroups(), caps=capabilities(),
       armed=armed.value, write=attempt(write), fresh_import=attempt(fresh_import),
       detail=[r.detail for r in reports if r.name == "privileges"][0])
""",
        executable=python,
        import_sandbox=True,
        bare=True,
    )
    out = result_of(done)
    assert out["uid"] == [NOBODY] * 3 and out["gid"] == [NOBODY] * 3 and out["groups"] == []
    assert out["caps"]["effective"] == out["caps"]["permitted"] == out["caps"]["bounding"] == 0
    assert out["armed"] == 9  # SIGKILL: armed again after the uid change cleared it
    assert out["write"] == {"ok": True, "value": 2}
    assert (writable / "k.nbi").stat().st_uid == NOBODY
    assert out["fresh_import"] == {"ok": True, "value": 1.0}
    assert f"uid/gid {NOBODY}" in out["detail"]


def test_uid_drop_blocker_reads_mode_bits_of_every_component(public_tmp: Path) -> None:
    tmp_path = public_tmp
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    (inner / "lib.py").write_text("x = 1\n")
    outer.chmod(0o700)
    why = uid_drop_blocker([str(inner / "lib.py")])
    assert why is not None
    assert f"{inner / 'lib.py'} is not readable by uid {NOBODY}" in why
    assert f"({outer} is mode 0700, owner {outer.stat().st_uid})" in why
    outer.chmod(0o711)  # searchable is enough for a component
    assert uid_drop_blocker([str(inner / "lib.py")]) is None
    (inner / "lib.py").chmod(0o640)
    assert "mode 0640" in (uid_drop_blocker([str(inner / "lib.py")]) or "")
    inner.chmod(0o755)
    assert "not writable" in (uid_drop_blocker([], [str(inner)]) or "")
    inner.chmod(0o777)
    assert uid_drop_blocker([], [str(inner)]) is None
    assert uid_drop_blocker([str(tmp_path / "missing")]) is None  # Landlock skips those too
    outer.chmod(0o755)


@ROOT_ONLY
def test_uid_drop_blocker_uses_owner_and_group_bits(public_tmp: Path) -> None:
    own = public_tmp / "own"
    own.mkdir(mode=0o700)
    assert uid_drop_blocker([str(own)]) is not None  # root's, mode 0700
    os.chown(own, NOBODY, 0)
    assert uid_drop_blocker([str(own)], [str(own)]) is None  # the owner's bits apply
    os.chown(own, 0, NOBODY)
    own.chmod(0o750)
    assert uid_drop_blocker([str(own)]) is None  # the group's bits apply
    assert stat.S_IMODE(own.stat().st_mode) == 0o750


@ROOT_ONLY
def test_privileges_refuse_a_second_thread(layers: dict[str, LayerReport]) -> None:
    """Capabilities belong to each thread: with another thread alive the layer must refuse."""
    if unavailable_layer_is_refused("privileges", layers):
        return
    done = run_child(
        CAPS
        + """
import threading
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
try:
    apply_isolation(limits=Limits(), network=False, seccomp=False, landlock=False,
                    required=["privileges"])
except IsolationUnavailable as exc:
    missing = list(exc.missing)
stop.set(); t.join()
report(missing=missing, caps=capabilities())
"""
    )
    out = result_of(done)
    assert len(out["missing"]) == 1 and "2 threads" in out["missing"][0]
    assert out["caps"]["effective"] != 0  # nothing was dropped
