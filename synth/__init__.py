"""The VLM-CaR pipeline: decompose a task, generate checkers, admit them, refine, bundle.

Public API:
    synthesize(env_id, client) -> SynthesisResult    the whole pipeline, any client
    LiteLLMClient / ReplayClient / RecordingClient    a real model / a recording / a recorder
    ScriptedClient                                    a scripted stand-in VLM (tests, demo)
    admit, GateContext                                audit -> sandbox load -> fuzz -> verify
    verify_sources, VerificationReport                per-sub-task statistics vs ground truth
    write_bundle, load_bundle                         programs with provenance, tamper-checked

Importing ``synth`` does not import litellm (~3 s); it loads on the first real model call.
"""

from synth.bundle import load_bundle, write_bundle
from synth.errors import ReplayMiss, ReplyError, SynthError, VLMError
from synth.gate import Admission, GateContext, admit
from synth.pipeline import Round, SynthesisResult, synthesize
from synth.prompts import PROMPT_VERSIONS, Feedback
from synth.replay import RecordingClient, ReplayClient, ReplayStore
from synth.scripted import ScriptedClient
from synth.verify import Thresholds, VerificationReport, verify_sources
from synth.vlm import Completion, LiteLLMClient, VLMClient

__all__ = [
    "PROMPT_VERSIONS",
    "Admission",
    "Completion",
    "Feedback",
    "GateContext",
    "LiteLLMClient",
    "RecordingClient",
    "ReplayClient",
    "ReplayMiss",
    "ReplayStore",
    "ReplyError",
    "Round",
    "ScriptedClient",
    "SynthError",
    "SynthesisResult",
    "Thresholds",
    "VLMClient",
    "VLMError",
    "VerificationReport",
    "admit",
    "load_bundle",
    "synthesize",
    "verify_sources",
    "write_bundle",
]
