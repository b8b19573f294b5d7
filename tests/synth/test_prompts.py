"""Prompt tests: templates, images as data URLs, the generated sandbox surface, version ids,
feedback rendering."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sandbox import audit
from sandbox import surface as S
from synth.prompts import (
    PROMPT_VERSIONS,
    AuditItem,
    Feedback,
    PromptError,
    VerificationStats,
    load_template,
    render_checker,
    render_decompose,
    render_refine,
    render_template,
    rules_text,
    surface_text,
    template_sha256,
)
from synth.vlm import ImagePart, Message, to_litellm_messages

START = np.zeros((64, 48, 3), np.uint8)
GOAL = START.copy()
GOAL[5:10, 5:10] = (0, 255, 0)
SUBTASKS = [
    ("key_picked", "The yellow key is no longer on the floor."),
    ("door_opened", "The door is open."),
]


def all_text(messages: list[Message]) -> str:
    return "\n".join(m.text for m in messages)


def test_every_version_has_a_template_with_sections() -> None:
    for kind, version in PROMPT_VERSIONS.items():
        assert version.startswith(kind + "_v")
        text = load_template(version)
        assert "<!-- role: system -->" in text and "<!-- role: user -->" in text
        assert "{{version}}" in text
        assert re.fullmatch(r"[0-9a-f]{64}", template_sha256(version))
    with pytest.raises(PromptError, match="no template file"):
        load_template("checker_v999")
    with pytest.raises(PromptError, match="looks like"):
        load_template("../etc/passwd")


def test_decompose_has_images_as_data_urls_and_version() -> None:
    msgs = render_decompose("Open the door.", START, GOAL, env_notes="Keys are yellow.")
    assert [m.role for m in msgs] == ["system", "user"]
    images = msgs[1].images
    assert [i.sha256 for i in images] == [
        ImagePart.from_array(START).sha256,
        ImagePart.from_array(GOAL).sha256,
    ]
    payload = to_litellm_messages(msgs)
    urls = [p["image_url"]["url"] for p in payload[1]["content"] if p["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/png;base64,") for u in urls)
    text = all_text(msgs)
    assert "decompose_v1" in text and "Open the door." in text and "Keys are yellow." in text
    assert '{"subtasks": [{"name": "key_picked"' in text and "between 1 and 8" in text
    assert "{{" not in text
    # the START image comes before the GOAL image, each after its label
    labels = [p for p in msgs[1].parts if isinstance(p, str)]
    assert "START" in labels[0] and "GOAL" in labels[1]


def test_decompose_without_notes_drops_the_line() -> None:
    text = all_text(render_decompose("", START, GOAL, max_subtasks=4))
    assert "About this environment" not in text and "\n\n\n" not in text
    assert "infer it from the two images" in text and "between 1 and 4" in text


def test_checker_prompt_states_the_whole_surface() -> None:
    msgs = render_checker(
        SUBTASKS[0],
        SUBTASKS,
        START,
        GOAL,
        (64, 48, 3),
        env_notes="MiniGrid palette: key (255, 255, 0)",
    )
    text = all_text(msgs)
    assert "checker_v1" in text and "64×48×3" in text and "MiniGrid palette" in text
    assert (
        "```python" in text and "def check(frame):" in text and "def check(frame, first):" in text
    )
    assert "sub-task 1 of 2, `key_picked`" in text and "`door_opened`" in text
    assert len(msgs[1].images) == 2
    surface = surface_text()
    assert surface in text and rules_text() in text
    for name in S.BUILTIN_NAMES - S.RESERVED_NAMES:
        assert re.search(rf"\b{name}\b", surface), name
    assert not re.search(r"Builtins:[^\n]*\bprint\b", surface)
    for name in S.NUMPY_FUNCTIONS | S.NUMPY_DTYPES | S.MATH_NAMES | S.EXCEPTION_NAMES:
        assert re.search(rf"\b{name}\b", surface), name
    for name in S.NUMPY_CONSTANTS:
        assert f"np.{name}" in surface
    for name in S.ATTRIBUTES["ndarray"]:
        assert re.search(rf"\b{name}\b", surface), name
    for name in S.VISION_NAMES:
        assert f"`{name}(" in surface, name
    assert "`color_mask(frame, rgb, tol=0)`" in surface
    assert "`region_change(frame, first, y0, x0, y1, x1, tol=0)`" in surface
    assert ":func:" not in surface and "``" not in surface


def test_checker_prompt_accepts_subtask_objects_and_unknown_current() -> None:
    class Sub:
        name = "goal_reached"
        description = "The agent is on the green square."

    text = all_text(render_checker(Sub(), SUBTASKS, START, GOAL, (64, 48, 3), entry="check"))
    assert "sub-task 3 of 3, `goal_reached`" in text


def test_refine_renders_every_feedback_item() -> None:
    source = "import numpy as np\ndef check(frame):\n    x = open('f')\n    return bool(x)\n"
    report = audit(source)
    assert not report.ok
    feedback = Feedback(
        audit=[AuditItem.from_finding(f) for f in report.findings],
        counterexamples=[
            "all-black frame -> raised IndexError",
            "frame with noise\nover two lines",
        ],
        stats=VerificationStats(
            expert_fire_rate=0.4,
            random_fire_rate=0.85,
            precision=0.41,
            recall=0.95,
            n_expert=20,
            n_random=20,
            random_length=50,
            first_frame_fire_rate=0.6,
            order_problems=["fired before key_picked in 7/20 expert trajectories"],
        ),
        runtime_errors=["ZeroDivisionError: division by zero (line 4)"],
        reply_problem="no ```python block",
        notes=["keep it short"],
    )
    msgs = render_refine(
        SUBTASKS[0], source, feedback, all_subtasks=SUBTASKS, frame_shape=(64, 48, 3)
    )
    text = all_text(msgs)
    assert "refine_v1" in text and "{{" not in text
    assert "A502" in text and "line 3 `x = open('f')`" in text
    assert (
        "all-black frame -> raised IndexError" in text and "frame with noise over two lines" in text
    )
    assert (
        "40% (8/20) of the expert" in text
        and "85% (17/20) of the random rollouts of 50 steps" in text
    )
    assert "precision 0.41, recall 0.95" in text and "very first frame in 60%" in text
    assert "fired before key_picked in 7/20" in text and "ZeroDivisionError" in text
    assert "no ```python block" in text and "keep it short" in text
    assert source.rstrip("\n") in text
    assert msgs[1].images == ()  # no images unless given
    assert surface_text() in text


def test_refine_with_images_and_a_fence_breaking_source() -> None:
    source = 'def check(frame):\n    s = """```"""\n    return True\n'
    msgs = render_refine(
        SUBTASKS[1], source, Feedback(notes=["x"]), start_frame=START, goal_frame=GOAL
    )
    text = all_text(msgs)
    assert "````python\n" + source in text + "\n" and len(msgs[1].images) == 2


def test_feedback_is_bounded() -> None:
    fb = Feedback(counterexamples=[f"case {i} " + "x" * 1000 for i in range(20)])
    text = fb.render()
    assert "... and 12 more" in text and "case 7" in text and "case 8 " not in text
    assert max(len(line) for line in text.splitlines()) < 320
    assert Feedback().empty and not fb.empty
    assert Feedback().render() == "- (no specific findings)"
    assert Feedback(counterexamples="one").counterexamples == ("one",)


def test_template_values_are_not_rescanned_and_misuse_is_reported() -> None:
    msgs = render_decompose("task {{surface}} {{image:start}}", START, GOAL)
    assert "task {{surface}} {{image:start}}" in all_text(msgs) and len(msgs[1].images) == 2
    with pytest.raises(PromptError, match="no value for placeholder"):
        render_template(
            "decompose_v1",
            {"task_text": "t", "env_notes": ""},
            {"start": ImagePart.from_array(START), "goal": ImagePart.from_array(GOAL)},
        )
    with pytest.raises(PromptError, match="not used: bogus"):
        render_template(
            "decompose_v1",
            {"task_text": "t", "env_notes": "", "max_subtasks": "3", "bogus": "b"},
            {"start": ImagePart.from_array(START), "goal": ImagePart.from_array(GOAL)},
        )
    with pytest.raises(PromptError, match="no image"):
        render_template(
            "decompose_v1",
            {"task_text": "t", "env_notes": "", "max_subtasks": "3"},
            {"goal": ImagePart.from_array(GOAL)},
        )
