"""Reply parsing tests: a table of checker replies and sub-task replies, plus Hypothesis runs
showing the parsers raise nothing but ReplyError on arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.errors import ReplyError
from synth.parse import code_blocks, extract_checker, extract_code, parse_subtasks

GOOD = "def check(frame):\n    return bool(frame.mean() > 10)\n"
GOOD2 = (
    "import numpy as np\n\n\ndef check(frame, first):\n    return bool(np.any(frame != first))\n"
)

# (reply, expected source or ReplyError problem)
CHECKER_CASES: list[tuple[str, str, str]] = [
    ("valid, prose around", f"The key is yellow.\n```python\n{GOOD}```\nHope this helps!", GOOD),
    ("valid, first arg", f"```py\n{GOOD2}```", GOOD2),
    ("crlf", f"```python\r\n{GOOD.replace(chr(10), chr(13) + chr(10))}```\r\n", GOOD),
    ("trailing blank lines", f"```python\n{GOOD}\n\n\n```", GOOD),
    ("untagged fence", f"```\n{GOOD}```", GOOD),
    ("tilde fence", f"~~~python\n{GOOD}~~~", GOOD),
    (
        "indented fence",
        "1. Code:\n   ```python\n   def check(frame):\n       return True\n   ```\n",
        "def check(frame):\n    return True\n",
    ),
    (
        "long fence with ``` inside",
        '````python\ndef check(frame):\n    s = """\n```\n"""\n    return True\n````',
        'def check(frame):\n    s = """\n```\n"""\n    return True\n',
    ),
    ("no fence, only code", GOOD, GOOD),
    ("empty", "  \n ", "empty"),
    ("prose only", "I cannot see the key in the image, sorry.", "prose_only"),
    ("code without fence", f"Here it is:\n{GOOD}\nThat should work.", "no_code_block"),
    ("json block only", '```json\n{"a": 1}\n```', "no_code_block"),
    ("empty python block", "```python\n```", "no_code_block"),
    (
        "unterminated fence",
        "```python\ndef check(frame):\n    mask = color_mask(frame, (255, 255, 0),",
        "truncated",
    ),
    (
        "syntax error at EOF",
        "```python\ndef check(frame):\n    return bool(frame.mean(\n```",
        "truncated",
    ),
    ("indented block missing at EOF", "```python\ndef check(frame):\n```", "truncated"),
    (
        "syntax error mid-code",
        "```python\ndef check(frame):\n    return 1 +* 2\n\nX = 3\n```",
        "syntax_error",
    ),
    ("missing entry", "```python\ndef chek(frame):\n    return True\n```", "missing_entry"),
    (
        "entry inside class",
        "```python\nclass C:\n    def check(frame):\n        return True\n```",
        "missing_entry",
    ),
    (
        "three params",
        "```python\ndef check(frame, first, extra):\n    return True\n```",
        "wrong_signature",
    ),
    ("no params", "```python\ndef check():\n    return True\n```", "wrong_signature"),
    (
        "default",
        "```python\ndef check(frame, first=None):\n    return True\n```",
        "wrong_signature",
    ),
    ("star args", "```python\ndef check(*frames):\n    return True\n```", "wrong_signature"),
    (
        "keyword-only",
        "```python\ndef check(frame, *, first):\n    return True\n```",
        "wrong_signature",
    ),
    ("async", "```python\nasync def check(frame):\n    return True\n```", "wrong_signature"),
    ("lambda", "```python\ncheck = lambda frame: True\n```", "wrong_signature"),
    ("class", "```python\nclass check:\n    pass\n```", "wrong_signature"),
    ("too long", "```python\n" + "x = 1\n" * 40_000 + "```", "too_long"),
]


@pytest.mark.parametrize(
    ("label", "reply", "expected"), CHECKER_CASES, ids=[c[0] for c in CHECKER_CASES]
)
def test_extract_checker_cases(label: str, reply: str, expected: str) -> None:
    if "\n" in expected or expected.startswith("def"):
        assert extract_checker(reply) == expected
        return
    with pytest.raises(ReplyError) as info:
        extract_checker(reply)
    err = info.value
    assert err.problem == expected, str(err)
    text = str(err)
    assert f"({expected})" in text and err.advice in text
    assert len(err.excerpt) <= 300


def test_two_blocks_takes_the_longest_with_entry_and_warns() -> None:
    helper = "def helper(x):\n    return x + 1\n\n\ndef other(y):\n    return y * 2\n"
    short = "def check(frame):\n    return True\n"
    reply = f"First:\n```python\n{short}```\nBetter:\n```python\n{GOOD2}```\nHelpers:\n```python\n{helper}```"
    got = extract_code(reply)
    assert got.source == GOOD2 and got.blocks == 3
    assert (
        got.warning is not None
        and "3 python blocks" in got.warning
        and "defines check()" in got.warning
    )
    assert got.line == reply.split("\n").index("Better:") + 2
    assert extract_code(f"```python\n{GOOD}```").warning is None
    assert "no code fence" in (extract_code(GOOD).warning or "")


def test_complete_block_before_truncated_one_is_used() -> None:
    got = extract_code(
        f"```python\n{GOOD}```\nAlternative:\n```python\ndef check(frame):\n    return ("
    )
    assert got.source == GOOD and "unterminated" in (got.warning or "")


def test_reply_error_messages_are_precise() -> None:
    with pytest.raises(ReplyError) as info:
        extract_checker("```python\ndef check(frame, first, x):\n    return True\n```")
    err = info.value
    assert err.line == 1 and "def check(frame, first, x)" in str(err)
    assert "exactly (frame) or (frame, first)" in err.feedback()
    with pytest.raises(ReplyError) as info:
        extract_checker("```python\ndef check(frame):\n    a = 1\n    return a +* 2\n```")
    assert info.value.line == 3 and "return a +* 2" in info.value.excerpt
    with pytest.raises(ReplyError) as info:
        extract_checker("```python\ndef helper(frame):\n    return True\n```")
    assert "it defines helper" in str(info.value)
    with pytest.raises(ReplyError) as info:
        extract_checker("x" * 5000)
    assert len(info.value.excerpt) <= 300 and "5000 chars" in info.value.excerpt


def test_custom_entry_name() -> None:
    assert extract_checker("```python\ndef reward(frame):\n    return True\n```", entry="reward")
    with pytest.raises(ReplyError, match="def reward"):
        extract_checker(f"```python\n{GOOD}```", entry="reward")


def test_code_blocks() -> None:
    blocks = code_blocks("a\n```Python3 extra\nx\n```\n```json\n{}\n```\n```python\nopen")
    assert [(b.info, b.closed, b.line) for b in blocks] == [
        ("python3", True, 2),
        ("json", True, 5),
        ("python", False, 8),
    ]


# -- sub-tasks -----------------------------------------------------------------------------------

ONE = '{"subtasks": [{"name": "key_picked", "description": "The key is gone."}]}'
TWO = [("key_picked", "The key is gone."), ("door_opened", "The door is open.")]
TWO_JSON = (
    '{"subtasks": [{"name": "key_picked", "description": "The key is gone."}, '
    '{"name": "door_opened", "description": "The door is open."}]}'
)

SUBTASK_CASES: list[tuple[str, str, object]] = [
    ("plain", ONE, [("key_picked", "The key is gone.")]),
    ("json fence with prose", f"Sure! Here they are:\n```json\n{TWO_JSON}\n```\nGood luck.", TWO),
    ("prose around, no fence", f"Plan (steps [1] and [2]): {TWO_JSON} -- done", TWO),
    ("bare list", '[{"name": "a1", "description": "d"}]', [("a1", "d")]),
    (
        "whitespace trimmed",
        '{"subtasks": [{"name": " key ", "description": " d "}]}',
        [("key", "d")],
    ),
    ("empty", "", "empty"),
    ("prose", "The agent should pick up the key then open the door.", "invalid_json"),
    ("broken json", '{"subtasks": [{"name": "a", "description": "b"}', "invalid_json"),
    ("no subtasks", '{"steps": []}', "invalid_json"),
    ("zero", '{"subtasks": []}', "bad_subtasks"),
    (
        "nine",
        '{"subtasks": ['
        + ", ".join(f'{{"name": "s{i}", "description": "d"}}' for i in range(9))
        + "]}",
        "bad_subtasks",
    ),
    ("uppercase name", '{"subtasks": [{"name": "KeyPicked", "description": "d"}]}', "bad_subtasks"),
    ("dash in name", '{"subtasks": [{"name": "key-picked", "description": "d"}]}', "bad_subtasks"),
    (
        "long name",
        '{"subtasks": [{"name": "' + "a" * 41 + '", "description": "d"}]}',
        "bad_subtasks",
    ),
    (
        "duplicate",
        '{"subtasks": [{"name": "a", "description": "d"}, {"name": "a", "description": "e"}]}',
        "bad_subtasks",
    ),
    ("missing description", '{"subtasks": [{"name": "a"}]}', "bad_subtasks"),
    ("empty description", '{"subtasks": [{"name": "a", "description": "  "}]}', "bad_subtasks"),
    ("not objects", '{"subtasks": ["a", "b"]}', "bad_subtasks"),
    ("subtasks not list", '{"subtasks": "a, b"}', "bad_subtasks"),
]


@pytest.mark.parametrize(
    ("label", "reply", "expected"), SUBTASK_CASES, ids=[c[0] for c in SUBTASK_CASES]
)
def test_parse_subtasks_cases(label: str, reply: str, expected: object) -> None:
    if isinstance(expected, list):
        assert parse_subtasks(reply) == expected
        return
    with pytest.raises(ReplyError) as info:
        parse_subtasks(reply)
    assert info.value.problem == expected, str(info.value)


def test_parse_subtasks_limit_is_adjustable() -> None:
    assert len(parse_subtasks(TWO_JSON, max_subtasks=2)) == 2
    with pytest.raises(ReplyError, match="between 1 and 1"):
        parse_subtasks(TWO_JSON, max_subtasks=1)


# -- never anything but ReplyError ----------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "```",
        "```python\n",
        "```json\n",
        "~~~\n",
        "\n",
        "def check(frame):\n",
        "def check(frame, first):\n",
        "    return True\n",
        "    return (",
        "{",
        "}",
        "[",
        "]",
        '"subtasks"',
        ": ",
        ", ",
        '{"name": "a", "description": "b"}',
        '"name"',
        "\\u0000",
        "\x00",
        "\r\n",
        "async ",
        "lambda ",
        "1" * 5000,
        "[" * 3000,
        "(" * 300,
        "class check:\n",
        "import os\n",
        "\t",
        "é",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=400),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=25).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_parsers_raise_only_reply_error(text: str) -> None:
    for parse in (extract_checker, parse_subtasks):
        try:
            result = parse(text)
        except ReplyError as err:
            assert str(err) and len(err.excerpt) <= 300
        else:
            if parse is extract_checker:
                assert isinstance(result, str) and result.endswith("\n") and "\r" not in result
