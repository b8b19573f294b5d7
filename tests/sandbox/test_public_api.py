"""Each package's __all__ is a decision: it equals the public names the package defines or imports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["sandbox", "rl", "synth", "vlmcar"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_matches_public_names(name: str) -> None:
    module = importlib.import_module(name)
    declared = set(module.__all__) - {"__version__"}
    if "__getattr__" in vars(module):
        # A lazy package (``rl`` defers torch): every declared name resolves, and dir() lists them.
        for n in declared:
            assert getattr(module, n) is not None, n
        assert declared <= set(dir(module))
        return
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not (hasattr(v, "__spec__") and hasattr(v, "__path__"))
        and type(v).__name__ != "module"
    }
    assert declared == public


def test_importing_sandbox_loads_no_heavy_packages() -> None:
    code = "import sys, sandbox; print(sorted(m for m in ('torch', 'gymnasium', 'litellm', 'numba', 'stable_baselines3') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
