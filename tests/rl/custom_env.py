"""Small Gymnasium environments defined outside vlm-car, for the any-environment tests.

Importing this module registers them with Gymnasium, so they are reached the way a user's own
environment is: ``--env tests.rl.custom_env:VlmcarTest/Dot-v0`` (``module:EnvId``).

* ``VlmcarTest/Dot-v0``: a red dot walks on a 32 x 32 black canvas to a green square; vector
  observations, ``render_mode="rgb_array"`` frames; reward 1 and termination on the square.
  ``dot_expert`` walks straight there.
* ``VlmcarTest/Resizing-v0``: the Dot env whose rendered frame grows on the third step.
* ``VlmcarTest/NoRender-v0``: the Dot env without any render mode (vector observations only).
* ``VlmcarTest/Interrupt-v0``: the Dot env that sends itself SIGINT (Ctrl-C) on step 300.
"""

from __future__ import annotations

import os
import signal
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

SIZE = 32
MOVES = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # stay, down, up, right, left (row, col)


class DotEnv(gym.Env[np.ndarray, int]):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, size: int = SIZE, max_steps: int = 30):
        self.render_mode = render_mode
        self.size = size
        self.max_steps = max_steps
        self.observation_space = spaces.Box(0, size, (4,), np.float32)
        self.action_space = spaces.Discrete(len(MOVES))
        self.agent = np.zeros(2, np.int64)
        self.target = np.zeros(2, np.int64)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.agent, self.target]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        cells = self.size // 4
        self.agent = self.np_random.integers(0, cells, 2) * 4
        self.target = self.np_random.integers(0, cells, 2) * 4
        while np.array_equal(self.agent, self.target):
            self.target = self.np_random.integers(0, cells, 2) * 4
        self.t = 0
        return self._obs(), {}

    def step(self, action: int):
        self.t += 1
        move = np.array(MOVES[int(action)]) * 4
        self.agent = np.clip(self.agent + move, 0, self.size - 4)
        done = bool(np.array_equal(self.agent, self.target))
        return self._obs(), float(done), done, self.t >= self.max_steps and not done, {}

    def _side(self) -> int:
        return self.size

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        side = self._side()
        frame = np.zeros((side, side, 3), np.uint8)
        ty, tx = self.target
        frame[ty : ty + 4, tx : tx + 4] = (0, 255, 0)
        ay, ax = self.agent
        frame[ay + 1 : ay + 3, ax + 1 : ax + 3] = (255, 0, 0)
        return frame


class ResizingEnv(DotEnv):
    def _side(self) -> int:
        return self.size + (8 if self.t >= 3 else 0)


class NoRenderEnv(DotEnv):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "render_fps": 10}


class InterruptEnv(DotEnv):
    steps = 0

    def step(self, action: int):
        InterruptEnv.steps += 1
        if InterruptEnv.steps == 300:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C in the terminal delivers
        return super().step(action)


class _DotExpert:
    def __init__(self, env: Any) -> None:
        self.env = env

    def __call__(self, obs: np.ndarray) -> int:
        ay, ax, ty, tx = (int(v) for v in obs)
        if ay != ty:
            return 1 if ty > ay else 2
        if ax != tx:
            return 3 if tx > ax else 4
        return 0


def dot_expert(env: Any) -> _DotExpert:
    """Policy factory (``module:function`` form): walk straight to the green square."""
    return _DotExpert(env)


def not_a_factory() -> None:
    """A callable that does not take the env (for the error test)."""


for _id, _cls in (
    ("VlmcarTest/Dot-v0", DotEnv),
    ("VlmcarTest/Resizing-v0", ResizingEnv),
    ("VlmcarTest/NoRender-v0", NoRenderEnv),
    ("VlmcarTest/Interrupt-v0", InterruptEnv),
):
    if _id not in gym.registry:
        gym.register(_id, entry_point=f"{__name__}:{_cls.__name__}")

DOT = f"{__name__}:VlmcarTest/Dot-v0"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
