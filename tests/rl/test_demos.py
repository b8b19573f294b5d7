"""rl.demos: demonstrations from the user (.npz, Minari, SB3 .zip, module:function) and PNG frames.

The Minari datasets are built here with Minari's own DataCollector in a temporary
MINARI_DATASETS_PATH (nothing is downloaded); the SB3 model is trained here by rl.training.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rl.demos import DemoError, DemoSource, load_demos, load_labelled, read_png
from rl.envs import make_env
from rl.experts import MiniGridPlanner
from rl.registry import get_spec
from rl.rollouts import rollouts
from synth.vlm import encode_png
from tests.rl.custom_env import DOT

LAVA = "MiniGrid-LavaCrossingS9N1-v0"


# ------------------------------------------------------------------------------------------------
# parsing
# ------------------------------------------------------------------------------------------------


def test_sources_are_parsed_by_form(tmp_path: Path) -> None:
    (tmp_path / "d.npz").write_bytes(b"")
    (tmp_path / "m.zip").write_bytes(b"")
    assert DemoSource.parse("expert") == DemoSource("expert")
    assert DemoSource.parse(str(tmp_path / "d.npz")).kind == "npz"
    assert DemoSource.parse(str(tmp_path / "m.zip")).kind == "sb3"
    assert DemoSource.parse("pkg.mod:make_policy") == DemoSource("policy", "pkg.mod:make_policy")
    assert DemoSource.parse("me/lava/expert-v0") == DemoSource("minari", "me/lava/expert-v0")
    assert DemoSource.parse("minari:lava-v1") == DemoSource("minari", "lava-v1")
    assert DemoSource.parse(str(tmp_path)).kind == "minari"  # a dataset directory
    for bad in ("nothing here", str(tmp_path / "missing.npz")):
        with pytest.raises(DemoError):
            DemoSource.parse(bad)


# ------------------------------------------------------------------------------------------------
# .npz
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dot_frames() -> tuple[np.ndarray, list[int]]:
    trajs = rollouts(DOT, 3, "random", 7, length=12)
    return np.concatenate([t.frames for t in trajs]), [0, 12, 24]


def test_npz_episodes_split_at_their_starts(tmp_path: Path, dot_frames) -> None:
    frames, starts = dot_frames
    path = tmp_path / "demos.npz"
    np.savez(path, frames=frames, episode_starts=np.array(starts))
    trajs = load_demos(DOT, str(path), n=10)
    assert [len(t) for t in trajs] == [12, 12, 12]
    np.testing.assert_array_equal(trajs[1].frames, frames[12:24])
    assert trajs[0].policy == "npz:demos.npz" and trajs[0].actions is None
    assert trajs[0].labels.shape == (12, 0) and trajs[0].success
    mask = np.zeros(len(frames), bool)
    mask[starts] = True
    np.savez(path, frames=frames, episode_starts=mask, actions=np.arange(len(frames)))
    again = load_demos(DOT, str(path), n=2)
    assert len(again) == 2 and again[1].actions is not None
    np.testing.assert_array_equal(again[1].actions, np.arange(12, 24))


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"frames": "ok"}, "missing episode_starts"),
        ({"frames": "ok", "episode_starts": [1, 12]}, "must begin with 0"),
        ({"frames": "ok", "episode_starts": [0, 20, 12]}, "must strictly increase"),
        ({"frames": "ok", "episode_starts": [0, 12, 40]}, "do not add up"),
        ({"frames": "ok", "episode_starts": [0, 35]}, "has 1 frame"),
        ({"frames": "ok", "episode_starts": "short-mask"}, "one entry per frame"),
        ({"frames": "float", "episode_starts": [0]}, r"not \(T, H, W, 3\) uint8"),
        ({"frames": "empty", "episode_starts": [0]}, "frames is empty"),
        ({"frames": "ok", "episode_starts": [0], "actions": "short"}, "actions has 3 rows"),
        ({"frames": "big", "episode_starts": [0]}, "40x40x3 frames but .* are 32x32x3"),
    ],
    ids=[
        "no-starts",
        "not-from-0",
        "not-increasing",
        "past-the-end",
        "one-frame-episode",
        "mask-length",
        "float-frames",
        "empty",
        "actions-length",
        "other-frame-shape",
    ],
)
def test_npz_problems_are_refused(tmp_path: Path, dot_frames, arrays, match) -> None:
    frames, _ = dot_frames
    values = {
        "ok": frames,
        "float": frames.astype(np.float32),
        "empty": frames[:0],
        "big": np.zeros((5, 40, 40, 3), np.uint8),
        "short-mask": np.ones(3, bool),
        "short": np.zeros(3),
    }
    data = {k: values[v] if isinstance(v, str) else np.array(v) for k, v in arrays.items()}
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(DemoError, match=match):
        load_demos(DOT, str(path), n=5)
    path.write_bytes(b"not a zip")
    with pytest.raises(DemoError, match="cannot read it"):
        load_demos(DOT, str(path), n=5)


# ------------------------------------------------------------------------------------------------
# Minari
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def minari_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def _collect(env_id: str, dataset_id: str, episodes: int, *, record_infos: bool, policy) -> None:
    import minari

    env = make_env(env_id, observation="auto")
    collector = minari.DataCollector(env, record_infos=record_infos)
    for seed in range(episodes):
        obs, _ = collector.reset(seed=seed)
        act = policy(collector)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = collector.step(act(obs))
            done = terminated or truncated
    collector.create_dataset(
        dataset_id=dataset_id,
        algorithm_name="scripted",
        author="vlm-car tests",
        author_email="tests@vlm-car.invalid",
        description="built by tests/rl/test_demos.py",
        code_permalink="tests/rl/test_demos.py",
        eval_env=get_spec(env_id).gym_id,
    )
    collector.close()


def test_minari_dataset_frames_come_from_recorded_infos(minari_home: Path) -> None:
    _collect(LAVA, "vlmcar/lava/planner-v0", 3, record_infos=True, policy=MiniGridPlanner)
    trajs = load_demos(LAVA, "minari:vlmcar/lava/planner-v0", n=5)
    live = load_demos(LAVA, "rl.experts:MiniGridPlanner", n=3)  # the same episodes, rolled out
    assert len(trajs) == 3 and all(t.success for t in trajs)
    for recorded, rolled in zip(trajs, live, strict=True):
        np.testing.assert_array_equal(recorded.frames, rolled.frames)
        np.testing.assert_array_equal(recorded.actions, rolled.actions)
        assert recorded.terminated[-1] and not recorded.terminated[0]
    assert trajs[0].policy == "minari:vlmcar/lava/planner-v0"
    by_dir = load_demos(LAVA, str(minari_home / "vlmcar" / "lava" / "planner-v0"), n=1)
    np.testing.assert_array_equal(by_dir[0].frames, trajs[0].frames)


def test_minari_dataset_without_frames_says_how_to_add_them(minari_home: Path) -> None:
    from tests.rl.custom_env import dot_expert

    _collect(DOT, "vlmcar/dot/noframes-v0", 2, record_infos=False, policy=dot_expert)
    with pytest.raises(DemoError, match=r"holds no frames.*record_infos=True"):
        load_demos(DOT, "vlmcar/dot/noframes-v0", n=2)
    with pytest.raises(DemoError, match="no such local Minari dataset"):
        load_demos(DOT, "vlmcar/dot/missing-v0", n=2)


# ------------------------------------------------------------------------------------------------
# SB3 models and policy factories
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dot_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rl.training import TrainConfig, train

    log = tmp_path_factory.mktemp("dot-ppo")
    config = TrainConfig(
        DOT, timesteps=256, n_envs=2, n_steps=64, batch_size=64, eval_every=256, eval_episodes=2
    )
    config.log_dir = log
    result = train(config, progress=False)
    assert result.model_path is not None
    return Path(result.model_path)


def test_sb3_model_is_rolled_out_in_the_env(dot_model: Path) -> None:
    trajs = load_demos(DOT, str(dot_model), n=2, seed=3)
    assert len(trajs) == 2 and trajs[0].policy == f"sb3:{dot_model}"
    assert trajs[0].frames.shape[1:] == (32, 32, 3)
    again = load_demos(DOT, str(dot_model), n=2, seed=3)  # deterministic policy, seeded resets
    np.testing.assert_array_equal(trajs[1].frames, again[1].frames)


def test_sb3_model_for_another_observation_space_is_refused(dot_model: Path, tmp_path: Path):
    with pytest.raises(DemoError, match=r"trained on observations Box.*does not offer"):
        load_demos(LAVA, str(dot_model), n=1)
    fake = tmp_path / "fake.zip"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("data", json.dumps({"policy_class": {"__module__": "elsewhere"}}))
    with pytest.raises(DemoError, match="cannot tell which SB3 algorithm"):
        load_demos(DOT, str(fake), n=1)
    (tmp_path / "junk.zip").write_bytes(b"junk")
    with pytest.raises(DemoError, match="not a stable-baselines3 model"):
        load_demos(DOT, str(tmp_path / "junk.zip"), n=1)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("no_such_module_q:policy", "cannot be imported"),
        ("tests.rl.custom_env:missing", "has no attribute"),
        ("tests.rl.custom_env:SIZE", "not a policy factory"),
        ("tests.rl.custom_env:not_a_factory", "the policy failed"),
    ],
)
def test_policy_factory_problems_are_refused(source: str, match: str) -> None:
    with pytest.raises(DemoError, match=match):
        load_demos(DOT, source, n=1)


def test_policy_factory_rolls_out_one_episode_each() -> None:
    trajs = load_demos(DOT, "tests.rl.custom_env:dot_expert", n=3, seed=10)
    assert [t.seed for t in trajs] == [10, 11, 12]
    assert all(t.success and t.terminated[-1] and t.n_episodes == 1 for t in trajs)


# ------------------------------------------------------------------------------------------------
# PNG frames and labelled frames
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_read_png_round_trips_what_encode_png_writes(tmp_path: Path, channels) -> None:
    rng = np.random.default_rng(0)
    shape = (19, 23) if channels is None else (19, 23, channels)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "x.png"
    path.write_bytes(encode_png(image))
    got = read_png(path)
    want = np.repeat(image[..., None], 3, axis=2) if channels is None else image[..., :3]
    np.testing.assert_array_equal(got, want)


def test_read_png_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"GIF89a")
    with pytest.raises(DemoError, match="not a PNG"):
        read_png(tmp_path / "a.png")
    with pytest.raises(DemoError, match="cannot read the PNG"):
        read_png(tmp_path / "missing.png")


def test_labelled_frames_from_json(tmp_path: Path, dot_frames) -> None:
    frames, _ = dot_frames
    for i in (0, 5, 9):
        (tmp_path / f"f{i}.png").write_bytes(encode_png(frames[i]))
    spec = {
        "first": "f0.png",
        "frames": [
            {"frame": "f5.png", "labels": {"moved": True, "home": False}},
            {"frame": "f9.png", "first": "f5.png", "labels": {"moved": False}},
        ],
    }
    (tmp_path / "labels.json").write_text(json.dumps(spec))
    got = load_labelled(tmp_path / "labels.json")
    assert len(got) == 2
    np.testing.assert_array_equal(got.frames[0], frames[5])
    np.testing.assert_array_equal(got.firsts[0], frames[0])
    np.testing.assert_array_equal(got.firsts[1], frames[5])
    assert got.labels["moved"].tolist() == [1, 0] and got.labels["home"].tolist() == [0, -1]
    for bad in (
        {"frames": []},
        {"frames": [{"labels": {}}]},
        {"frames": [{"frame": "f5.png", "labels": {"a": 1}}]},
    ):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(DemoError):
            load_labelled(tmp_path / "bad.json")
