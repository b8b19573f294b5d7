"""rl.registry: one declaration per env, any Gymnasium id resolved, unknown ids with close matches."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

import rl
from rl.envs import BUILTIN_SPECS, ENV_IDS, make_env
from rl.registry import (
    EnvError,
    EnvSpec,
    MakeSettings,
    UnknownEnvError,
    get_spec,
    parse_env_kwargs,
    register,
    registered_ids,
)
from tests.rl.custom_env import DOT


def test_builtin_entries_are_one_declaration_each():
    assert registered_ids()[: len(ENV_IDS)] == ENV_IDS and len(ENV_IDS) == 8
    for spec in BUILTIN_SPECS:
        assert spec.builtin and get_spec(spec.id) is spec
        assert spec.labeller is not None and spec.expert is not None
        assert spec.reference is not None and spec.notes
        assert spec.labeller().names == spec.label_names
    assert {s.family for s in BUILTIN_SPECS} == {"minigrid", "panda"}


def test_gymnasium_ids_resolve_to_generic_or_family_specs():
    cart = get_spec("CartPole-v1")
    assert (cart.family, cart.builtin, cart.labeller, cart.expert) == (
        "gymnasium",
        False,
        None,
        None,
    )
    lava = get_spec("MiniGrid-LavaCrossingS9N1-v0")  # the MiniGrid family, found by its class
    assert lava.family == "minigrid" and lava.symbolic is not None and lava.frame is not None
    assert lava.labeller is None and lava.reference is None and "MiniGrid" in lava.notes
    assert get_spec("MiniGrid-LavaCrossingS9N1-v0") is lava  # cached


def test_module_env_id_imports_the_module_first():
    spec = get_spec(DOT)
    assert spec.gym_id == "VlmcarTest/Dot-v0" and spec.id == DOT
    env = spec.make(MakeSettings(kwargs={"size": 48}))
    assert env.render_mode == "rgb_array" and env.unwrapped.size == 48
    env.close()


@pytest.mark.parametrize(
    ("env_id", "match"),
    [
        ("MiniGrid-DorKey-5x5-v0", "did you mean 'MiniGrid-DoorKey-5x5-v0'"),
        ("CartPol-v1", "did you mean 'CartPole-v1'"),
        ("no_such_module_xyz:Foo-v0", "module 'no_such_module_xyz' could not be imported"),
        ("tests.rl.custom_env:Nothing-v0", "unknown env id"),
        (":Foo-v0", "both parts"),
        ("", "non-empty"),
    ],
)
def test_unknown_ids_are_refused_with_what_to_do(env_id, match):
    with pytest.raises(UnknownEnvError, match=match) as info:
        get_spec(env_id)
    assert isinstance(info.value, ValueError)  # callers catching ValueError keep working
    with pytest.raises(UnknownEnvError):
        make_env(env_id)


def test_register_adds_one_entry_and_refuses_duplicates():
    spec = EnvSpec(
        id="vlmcar-test/cartpole-with-task",
        make=lambda s: gym.make("CartPole-v1", render_mode="rgb_array"),
        task="keep the pole upright",
        notes="a cart and a pole",
    )
    register(spec)
    try:
        assert get_spec(spec.id) is spec and spec.id in registered_ids()
        with pytest.raises(EnvError, match="already registered"):
            register(spec)
        register(spec, replace=True)
        env = make_env(spec.id, observation="native")
        _, info = env.reset(seed=0)
        assert info["frame"].shape == (400, 600, 3) and env.entry is spec
        env.close()
    finally:
        from rl import registry

        registry._REGISTERED.pop(spec.id, None)


def test_spec_and_settings_validation():
    with pytest.raises(ValueError, match="label_names and labeller together"):
        EnvSpec(id="x", make=lambda s: None, label_names=("a",))  # type: ignore[arg-type,return-value]
    for bad in ({"tile_size": 0}, {"frame_size": 4}, {"max_steps": 0}, {"kwargs": {1: 2}}):
        with pytest.raises(ValueError):
            MakeSettings(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "ok"),
    [("", {}), (None, {}), ('{"size": 7}', {"size": 7}), ("[1]", None), ("{nope", None)],
)
def test_parse_env_kwargs(text, ok):
    if ok is None:
        with pytest.raises(ValueError, match="--env-kwargs"):
            parse_env_kwargs(text)
    else:
        assert parse_env_kwargs(text) == ok


def test_import_rl_loads_neither_torch_nor_sb3():
    code = (
        "import sys, rl, rl.envs, rl.registry, rl.demos, rl.rollouts, rl.training, "
        "rl.training.config, rl.training.setup, rl.training.evaluation, rl.training.results; "
        "rl.make_env('MiniGrid-DoorKey-5x5-v0').reset(seed=0); "
        "print('torch' in sys.modules, 'stable_baselines3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_rl_all_is_sorted_and_every_name_resolves():
    assert rl.__all__ == sorted(rl.__all__, key=lambda n: (not n.isupper(), n))
    for name in rl.__all__:
        assert getattr(rl, name) is not None
    with pytest.raises(AttributeError):
        rl.no_such_name  # noqa: B018
