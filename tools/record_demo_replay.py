"""Re-record ``synth/data/demo_replay.json`` from the scripted stand-in VLM.

The demo replays a recording of ``synth/data/demo_script.json`` (a *scripted stand-in*, not a
model). Each recorded request carries the whole prompt, so any change to the prompt text (rules,
surface text) or to the gate's feedback makes the old recording miss. Run this after such a
change and commit the new file::

    .venv/bin/python tools/record_demo_replay.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Record the demo replay afresh; return 0, or 1 if synthesis fails (nothing replaced)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sys.path.insert(0, str(ROOT))
    from synth.demo import ENV_ID, SYNTH_SETTINGS
    from synth.pipeline import synthesize
    from synth.replay import RecordingClient, ReplayStore
    from synth.scripted import ScriptedClient

    data = ROOT / "synth" / "data"
    script = json.loads((data / "demo_script.json").read_text(encoding="utf-8"))
    target = data / "demo_replay.json"
    fresh = target.with_suffix(".json.new")
    fresh.unlink(missing_ok=True)
    client = RecordingClient(ScriptedClient(script, model="scripted-demo-vlm"), ReplayStore(fresh))
    result = synthesize(ENV_ID, client, log=print, **SYNTH_SETTINGS)
    if not result.ok:
        print(f"synthesis failed for {', '.join(result.failed)}; recording not replaced")
        return 1
    fresh.replace(target)
    print(f"wrote {target} ({len(result.rounds)} model calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
