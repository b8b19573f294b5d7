"""rl.relabel and ``vlmcar relabel``: a reward program over every frame of an offline dataset.

Real components only: the dataset is rolled out in MiniGrid-DoorKey-5x5-v0 by the scripted expert
and a random policy, the checkers run in real sandboxes, Ray is a real local instance started
(``ray.init(num_cpus=2)``) and stopped by the module fixture, the crash is a real SIGKILL of a
``vlmcar relabel`` process, the Minari datasets are written by Minari's own DataCollector. The one
stand-in is a machine without seccomp for the strict-isolation refusal (the probe's verdict is
replaced, as in tests/sandbox/test_pool.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rl.errors import NodeIsolationError, RelabelError
from rl.program import RewardProgram, SubTask, reference_program, save_program
from rl.relabel import (
    OUTPUT_KEYS,
    PartitionJob,
    compose_episodes,
    plan_partitions,
    program_sha256,
    relabel,
    relabel_partition,
)
from rl.rewards import RewardComposer
from rl.rollouts import rollouts
from sandbox import Sandbox
from sandbox.oslimits import LayerReport
from vlmcar.cli import main

ENV = "MiniGrid-DoorKey-5x5-v0"
ROOT = Path(__file__).resolve().parents[2]

#: Takes ``first``; raises on the frames where something red stands in grid cell (1, 1).
MOVED = """def check(frame, first):
    if int(frame[8:16, 8:16, 0].sum()) > 1000:
        raise ValueError("something in cell (1, 1)")
    return bool((frame != first).any())
"""


def _program() -> RewardProgram:
    ref = reference_program(ENV)
    return RewardProgram(
        ENV,
        "move, open the door, reach the goal",
        (SubTask("moved", "the frame differs from the episode's first", MOVED), *ref.subtasks[1:]),
        scheme="ordered",
        bonus=0.5,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("relabel")
    trajs = rollouts(ENV, 8, "expert", 0) + rollouts(ENV, 2, "random", 50, length=16)
    frames = np.concatenate([t.frames for t in trajs])
    episode = np.concatenate([t.episode + 100 * i for i, t in enumerate(trajs)])
    starts = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1]])
    rewards = np.concatenate([t.rewards for t in trajs])
    terminated = np.concatenate([t.terminated for t in trajs])
    npz = root / "doorkey.npz"
    np.savez(npz, frames=frames, episode_starts=starts, rewards=rewards, terminated=terminated)
    program_dir = root / "program"
    save_program(_program(), program_dir, key=None)
    return {
        "root": root,
        "npz": npz,
        "program": program_dir,
        "frames": frames,
        "starts": starts,
        "rewards": rewards,
        "terminated": terminated,
    }


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as out:
        return {k: out[k] for k in out.files}


def _cli(*argv: str) -> list[str]:
    return ["relabel", *argv, "--no-progress"]


@pytest.fixture(scope="module")
def serial(data: dict[str, Any]) -> dict[str, Any]:
    """The serial run, through the command line; its partitions are kept."""
    out = data["root"] / "serial.npz"
    argv = _cli(str(data["program"]), "--dataset", str(data["npz"]), "--out", str(out))
    code = main([*argv, "--partition-frames", "70", "--keep-parts"])
    assert code == 0
    return {
        "out": out,
        "arrays": _load(out),
        "sidecar": json.loads(out.with_suffix(".json").read_text()),
    }


@pytest.fixture(scope="module")
def ray_local():
    import ray  # the dev extra installs it (vlm-car[ray])

    started = not ray.is_initialized()  # another module's fixture may hold one: share it
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    if started:
        ray.shutdown()


# ------------------------------------------------------------------------------------------------
# composition (no sandbox)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["ordered", "any_order", "potential"])
def test_compose_episodes_is_the_composer_stepped_one_episode_at_a_time(scheme: str) -> None:
    rng = np.random.default_rng(3)
    lengths = [2, 7, 1, 12, 5]
    total = sum(lengths)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    flags = rng.random((total, 3)) < 0.4
    valid = rng.random((total, 3)) < 0.9
    terminated = np.zeros(total, bool)
    terminated[starts[1] + lengths[1] - 1] = terminated[starts[3] + lengths[3] - 1] = True
    shaped, completed = compose_episodes(
        flags & valid, valid, starts, terminated, scheme=scheme, bonus=2.0, gamma=0.9
    )
    want_r = np.zeros(total, np.float32)
    want_c = np.zeros((total, 3), bool)
    for a, n in zip(starts, lengths, strict=True):
        one = RewardComposer(1, 3, scheme=scheme, bonus=2.0, gamma=0.9)
        for t in range(a + 1, a + n):
            last = t == a + n - 1
            r, c = one.step(
                flags[t : t + 1] & valid[t : t + 1],
                valid[t : t + 1],
                [last],
                [last and terminated[t]],
            )
            want_r[t], want_c[t] = r[0], c[0]
    np.testing.assert_array_equal(shaped, want_r)
    np.testing.assert_array_equal(completed, want_c)
    assert shaped[starts].tolist() == [0.0] * len(starts)  # reset frames are not scored


def test_partitions_are_whole_episodes_covering_the_dataset() -> None:
    lengths = [3, 9, 2, 2, 2, 40, 1]
    plan = plan_partitions(lengths, 8)
    assert [p.episodes for p in plan] == [(0, 2), (2, 6), (6, 7)]
    assert [p.frames for p in plan] == [(0, 12), (12, 58), (58, 59)]
    assert plan_partitions(lengths, 10**6)[0].episodes == (0, 7)


# ------------------------------------------------------------------------------------------------
# the serial run
# ------------------------------------------------------------------------------------------------


def test_flags_and_rewards_equal_the_checkers_run_directly(data, serial) -> None:
    out, program = serial["arrays"], _program()
    frames, starts = data["frames"], data["starts"]
    assert set(out) == set(OUTPUT_KEYS)
    assert out["subtasks"].tolist() == list(program.names)
    np.testing.assert_array_equal(out["episode_starts"], starts)
    firsts = frames[np.repeat(starts, np.diff(np.r_[starts, len(frames)]))]
    with Sandbox(list(program.sources), names=list(program.names)) as box:
        direct = box.evaluate(frames, firsts)
    np.testing.assert_array_equal(out["valid"], direct.usable().T)
    np.testing.assert_array_equal(out["flags"], (direct.results & direct.usable()).T)
    failed = (~direct.usable()).sum(axis=1)
    assert 0 < failed[0] < len(frames) and failed[1:].tolist() == [0, 0]  # "moved" raises
    np.testing.assert_array_equal(out["failures"].sum(axis=0), failed)
    per_episode = np.add.reduceat((~direct.usable().T).astype(int), starts, axis=0)
    np.testing.assert_array_equal(out["failures"], per_episode)
    shaped, completed = compose_episodes(
        out["flags"], out["valid"], starts, data["terminated"], scheme="ordered", bonus=0.5
    )
    np.testing.assert_array_equal(out["shaped_reward"], shaped)
    np.testing.assert_array_equal(out["completed"], completed)
    np.testing.assert_array_equal(out["original_rewards"], data["rewards"])
    assert not out["flags"][starts, 0].any()  # first frame is `first`: nothing moved yet
    assert out["completed"][starts[1] - 1].all()  # the expert's episode reaches the goal

    side = serial["sidecar"]
    assert side["program"]["sha256"] == program_sha256(program)
    assert side["dataset"]["frames"] == len(frames) and side["dataset"]["has_rewards"]
    moved = side["counts"]["subtasks"]["moved"]
    assert moved["failed_frames"] == failed[0]
    assert moved["failure_statuses"] == {"error": int(failed[0])}
    assert moved["episodes_with_failures"] == int((per_episode[:, 0] > 0).sum())
    assert side["run"]["executor"] == "serial" and side["run"]["partitions"] == 2
    assert {p["hostname"] for p in side["partitions"]} == {socket.gethostname()}


def test_resume_recomputes_only_the_missing_partition(data, serial, tmp_path) -> None:
    out = tmp_path / "again.npz"
    shutil.copytree(serial["out"].with_suffix(".parts"), out.with_suffix(".parts"))
    (out.with_suffix(".parts") / "part0001.npz").unlink()  # lost in a crash
    result = relabel(data["program"], data["npz"], out, partition_frames=70, resume=True)
    assert (result.computed, result.resumed) == ([1], [0])
    again = _load(out)
    for key, value in serial["arrays"].items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)
    assert not out.with_suffix(".parts").exists()  # assembled, then cleaned up


def test_partitions_of_another_run_are_refused(data, serial, tmp_path) -> None:
    out = tmp_path / "other.npz"
    shutil.copytree(serial["out"].with_suffix(".parts"), out.with_suffix(".parts"))
    with pytest.raises(RelabelError, match="holds 2 finished partition"):
        relabel(data["program"], data["npz"], out, partition_frames=70)
    with pytest.raises(RelabelError, match="another reward program"):
        relabel(f"reference:{ENV}", data["npz"], out, partition_frames=70, resume=True)
    with pytest.raises(RelabelError, match="another episode range"):
        relabel(data["program"], data["npz"], out, partition_frames=200, resume=True)


def test_a_crash_between_partitions_loses_no_finished_partition(data, serial, tmp_path) -> None:
    out = tmp_path / "crash.npz"
    parts = out.with_suffix(".parts")
    argv = _cli(str(data["program"]), "--dataset", str(data["npz"]), "--out", str(out))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlmcar.cli", *argv, "--partition-frames", "70"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (parts / "part0000.npz").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "no partition finished within 60 s"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kept = sorted(p.name for p in parts.glob("part*.npz"))
    assert "part0000.npz" in kept and not out.exists()
    result = relabel(data["program"], data["npz"], out, partition_frames=70, resume=True)
    assert result.resumed == [int(n[4:8]) for n in kept]
    assert sorted(result.computed + result.resumed) == [0, 1]
    again = _load(out)
    for key, value in serial["arrays"].items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


# ------------------------------------------------------------------------------------------------
# Ray
# ------------------------------------------------------------------------------------------------


def test_ray_partitions_give_the_serial_outputs(data, serial, ray_local, tmp_path) -> None:
    out = tmp_path / "ray.npz"
    code = main(
        [
            *_cli(str(data["program"]), "--dataset", str(data["npz"]), "--out", str(out)),
            "--partition-frames",
            "70",
            "--ray",
            "--workers",
            "2",
        ]
    )
    assert code == 0
    got = _load(out)
    assert set(got) == set(serial["arrays"])
    for key, value in serial["arrays"].items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["run"]["executor"] == "ray" and side["run"]["workers"] == 2
    assert side["counts"] == serial["sidecar"]["counts"]
    assert os.getpid() not in {p["pid"] for p in side["partitions"]}  # ran in Ray's workers
    assert all(p["hostname"] == socket.gethostname() for p in side["partitions"])


def _no_seccomp() -> Any:
    from sandbox.oslimits import probe

    real = probe()
    return lambda: tuple(
        LayerReport(r.name, False, "libseccomp not found") if r.name == "seccomp" else r
        for r in real
    )


def test_a_ray_node_without_strict_layers_refuses_naming_itself(data, ray_local) -> None:
    # A Sandbox on the node refuses; the error crosses back from the Ray worker, naming the host.
    def on_a_node_without_seccomp(job: PartitionJob, fake: Any) -> Any:
        import sandbox.pool as pool
        from rl.relabel import relabel_partition

        real, pool.probe = pool.probe, fake
        try:
            return relabel_partition(job)
        finally:
            pool.probe = real

    program = _program()
    job = PartitionJob(
        0,
        program.names,
        program.sources,
        "ordered",
        1.0,
        0.99,
        data["frames"][:10],
        np.array([0]),
        np.zeros(10, bool),
        isolation="strict",
    )
    task = ray_local.remote(num_cpus=1)(on_a_node_without_seccomp)
    with pytest.raises(ray_local.exceptions.RayTaskError) as info:
        ray_local.get(task.remote(job, _no_seccomp()))
    cause = info.value.cause
    assert isinstance(cause, NodeIsolationError) and cause.node == socket.gethostname()
    assert "seccomp" in str(cause) and "--isolation process" in str(cause)


def test_strict_refuses_on_a_machine_without_a_layer_before_any_work(
    data, tmp_path, monkeypatch, capsys
) -> None:
    import sandbox.oslimits
    import sandbox.pool

    fake = _no_seccomp()
    monkeypatch.setattr(sandbox.oslimits, "probe", fake)
    monkeypatch.setattr(sandbox.pool, "probe", fake)
    out = tmp_path / "strict.npz"
    argv = _cli(str(data["program"]), "--dataset", str(data["npz"]), "--out", str(out))
    assert main([*argv, "--isolation", "strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"node {socket.gethostname()!r}" in err and "seccomp" in err
    assert not out.with_suffix(".parts").exists()
    program = _program()
    job = PartitionJob(
        0,
        program.names,
        program.sources,
        "ordered",
        1.0,
        0.99,
        data["frames"][:4],
        np.array([0]),
        np.zeros(4, bool),
        isolation="strict",
    )
    with pytest.raises(NodeIsolationError, match="seccomp"):  # and inside a worker's partition
        relabel_partition(job)


# ------------------------------------------------------------------------------------------------
# Minari and bad input
# ------------------------------------------------------------------------------------------------


def _collect(env_id: str, dataset_id: str, episodes: int, *, record_infos: bool, expert) -> None:
    import minari

    from rl.envs import make_env
    from rl.registry import get_spec

    env = make_env(env_id, observation="auto")
    collector = minari.DataCollector(env, record_infos=record_infos)
    for seed in range(episodes):
        obs, _ = collector.reset(seed=seed)
        act = expert(collector)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = collector.step(act(obs))
            done = terminated or truncated
    collector.create_dataset(
        dataset_id=dataset_id,
        algorithm_name="scripted",
        author="vlm-car tests",
        author_email="tests@vlm-car.invalid",
        description="built by tests/rl/test_relabel.py",
        code_permalink="tests/rl/test_relabel.py",
        eval_env=get_spec(env_id).gym_id,
    )
    collector.close()


@pytest.fixture
def minari_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def test_a_minari_dataset_is_relabelled_from_its_recorded_frames(
    data, serial, minari_home, tmp_path
):
    from rl.experts import MiniGridPlanner

    _collect(ENV, "vlmcar/doorkey/planner-v0", 2, record_infos=True, expert=MiniGridPlanner)
    result = relabel(data["program"], "minari:vlmcar/doorkey/planner-v0", tmp_path / "m.npz")
    got = _load(result.out)
    n = len(got["flags"])
    np.testing.assert_array_equal(got["flags"], serial["arrays"]["flags"][:n])  # same episodes
    assert got["original_rewards"][got["episode_starts"]].tolist() == [0.0, 0.0]
    assert (got["original_rewards"] > 0).sum() == 2 and got["terminated"].sum() == 2
    assert result.summary["dataset"]["kind"] == "minari"


@pytest.fixture
def bad(data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    no_frames = tmp_path / "noframes.npz"
    np.savez(no_frames, observations=np.zeros((4, 3)), episode_starts=np.array([0]))
    taken = tmp_path / "taken.npz"
    taken.write_bytes(b"")
    return {
        "npz": str(data["npz"]),
        "program": str(data["program"]),
        "no_frames": str(no_frames),
        "taken": str(taken),
        "out": str(tmp_path / "out.npz"),
    }


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["{program}", "--dataset", "{npz}", "--out", "{out}", "--ray"],
            r"pip install 'vlm-car\[ray\]'",
        ),
        (
            ["{program}", "--dataset", "{npz}", "--out", "{out}", "--ray", "127.0.0.1:1"],
            "ray start --head",
        ),
        (
            ["{program}", "--dataset", "{no_frames}", "--out", "{out}"],
            r"no frames.*record_infos=True",
        ),
        (["{program}", "--dataset", "{npz}", "--out", "{taken}"], "already exists.*--resume"),
        (["{root}/nowhere", "--dataset", "{npz}", "--out", "{out}"], "no such program"),
        (["{program}", "--dataset", "{npz}", "--out", "{out}", "--workers", "2"], "needs --ray"),
        (["{program}", "--dataset", "{root}/none.npz", "--out", "{out}"], "no such file"),
        (["{program}", "--dataset", "{npz}", "--out", "{root}/out.txt"], "ending in .npz"),
    ],
    ids=[
        "no-ray",
        "no-cluster",
        "no-frames",
        "out-exists",
        "no-program",
        "workers-alone",
        "no-dataset",
        "not-npz",
    ],
)
def test_bad_input_is_refused_in_one_line(request, bad, argv, match, monkeypatch, capsys) -> None:
    if request.node.callspec.id == "no-ray":
        monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as if not installed
    args = [a.format(root=Path(bad["out"]).parent, **bad) for a in argv]
    assert main(_cli(*args)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vlmcar relabel: error: ") and "\n" not in err and "Traceback" not in err
    assert re.search(match, err), err
    assert not Path(bad["out"]).exists()


def test_a_minari_dataset_without_frames_says_how_to_record_them(minari_home, tmp_path, capsys):
    from tests.rl.custom_env import DOT, dot_expert

    _collect(DOT, "vlmcar/dot/noframes-v0", 1, record_infos=False, expert=dot_expert)
    argv = _cli(
        f"reference:{ENV}", "--dataset", "vlmcar/dot/noframes-v0", "--out", str(tmp_path / "o.npz")
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        "holds no frames" in err
        and "minari.DataCollector(rl.make_env(ENV_ID), record_infos=True)" in err
    )


@pytest.mark.parametrize("source", ["frames.npy", "expert", "model.zip", "pkg.mod:policy"])
def test_what_is_not_a_dataset_is_named_as_such(source: str) -> None:
    from rl.demos import DemoError
    from rl.relabel import open_dataset

    with pytest.raises(DemoError, match="not an offline dataset") as info:
        open_dataset(source)
    assert "policy factory" not in str(info.value)  # not the `synth --demos` list
