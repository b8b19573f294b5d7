"""Tests for sandbox/audit.py: one violation and one non-violation per rule, plus robustness."""

from __future__ import annotations

import ast
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import RULES, audit
from sandbox.audit import AuditLimits, _Auditor
from tests.sandbox.conftest import load_attacks

OK = "def check(frame):\n    return bool(frame.mean() > 1)\n"

# code -> (source that must be flagged with code, similar source that must not be)
RULE_CASES: dict[str, tuple[str, str]] = {
    "S101": ("def check(frame) return True\n", OK),
    "S102": ("x = 1\n" * 2000 + OK, OK),
    "S103": ("def check(frame):\n    return True  # \u202e\n", OK),
    "S104": ("def check(frame):\n    return True  # a\u200bb\n", OK),
    "S105": ("def сheck(frame):\n    return True\n" + OK, OK),
    "S106": ("def check(frame):\n    return " + "[" * 60 + "]" * 60 + " == 0\n", OK),
    "S107": (OK + "\\\r\n", OK),
    "M201": ("print(1)\n" + OK, '"""doc"""\n' + OK),
    "M202": ("def checker(frame):\n    return True\n", OK),
    "M203": (
        "def check(frame, first, third):\n    return True\n",
        "def check(frame, first):\n    return True\n",
    ),
    "M204": (
        "SEEN = len([])\n" + OK,
        "import numpy as np\nSEEN = (1, 2, 'a', -3.5, None)\nC = {'r': [255, 0, 0]}\nT = 2 * 128\n"
        "H, W = 64, 64\nKEY = np.array([255, 255, 0], dtype=np.uint8)\nPI2 = 2 * np.pi\n" + OK,
    ),
    "M205": (OK + OK, "def helper(x):\n    return x\n" + OK),
    "I301": (
        "import os\n" + OK,
        "import numpy as np\nimport math\nfrom typing import Tuple\n" + OK,
    ),
    "I302": ("from . import config\n" + OK, OK),
    "I303": (
        "def check(frame):\n    import numpy as np\n    return True\n",
        "import numpy as np\n" + OK,
    ),
    "N402": ("class A:\n    pass\n" + OK, OK),
    "N403": ("def check(frame):\n    yield True\n", OK),
    "N404": ("async def check(frame):\n    return True\n", OK),
    "N405": ("def check(frame):\n    global n\n    return True\n", OK),
    "N406": ("def check(frame):\n    match 1:\n        case 1:\n            return True\n", OK),
    "N407": (
        "def check(frame):\n    try:\n        pass\n    except* ValueError:\n        pass\n    return True\n",
        OK,
    ),
    "N408": (
        "def check(frame):\n    try:\n        return True\n    except:\n        return False\n",
        "def check(frame):\n    try:\n        return True\n    except (ValueError, IndexError):\n        return False\n",
    ),
    "N409": ("def deco(f):\n    return f\n@deco\ndef check(frame):\n    return True\n", OK),
    "N410": (
        "def check(frame):\n    a = [1]\n    return bool(max(*a))\n",
        "def check(frame):\n    a = [1]\n    return bool(max(a))\n",
    ),
    "N411": (
        "def f(x, y=[]):\n    return x\n" + OK,
        "def f(x, y=30, z=(1, 2)):\n    return x\n" + OK,
    ),
    "N412": ("def check(frame):\n    with frame:\n        pass\n    return True\n", OK),
    "N413": ("def check(frame):\n    x = 1\n    del x\n    return True\n", OK),
    "N414": ("def check(frame):\n    check.n = 1\n    return True\n", OK),
    "N415": ("def check(frame):\n    s = f'{frame}'\n    return True\n", OK),
    "N416": (
        "def check(frame):\n    while True:\n        pass\n",
        "def check(frame):\n    while True:\n        break\n    return True\n",
    ),
    "N419": (
        "def check(frame):\n    try:\n        x = 1\n    finally:\n        return True\n",
        "def check(frame):\n    try:\n        x = 1\n    finally:\n        y = 2\n    return True\n",
    ),
    "N420": (
        "X: __import__('os').system('id') = 100\n" + OK,
        "import numpy as np\nX: int = 100\nY: 'Tuple[int, int]' = (1, 2)\n"
        "def check(frame: np.ndarray, first: np.ndarray | None) -> bool:\n"
        "    h: int = frame.shape[0]\n    return bool(h > X)\n",
    ),
    "N418": ("def check(frame):\n    x = frame @ frame\n    x @= x\n    return True\n", OK),
    "A501": ("def check(frame):\n    return frame.__class__ is None\n", OK),
    "A502": ("def check(frame):\n    return open('/etc/hostname') is None\n", OK),
    "A503": ("def check(frame):\n    return frame.base is None\n", OK),
    "A504": (
        "import numpy as np\ndef check(frame):\n    return np.load('x') is None\n",
        "import numpy as np\ndef check(frame):\n    return bool(np.mean(frame) > 1)\n",
    ),
    "A505": (
        "def check(frame):\n    len = 3\n    return True\n",
        "def check(frame):\n    n = 3\n    return True\n",
    ),
    "K601": (
        "def check(frame):\n    return frame.sum() > 2 ** 70 and 123456789012345678901234 > 1\n",
        OK,
    ),
    "K602": (
        "def check(frame):\n    return not (frame[..., 0] > 300).any()\n",
        "def check(frame):\n    return bool((frame[..., 0] > 200).any())\n",
    ),
}


def test_every_rule_has_a_case() -> None:
    # N401 (unknown-node) has no Python 3.11 source that reaches it: every node type of 3.11 has
    # been reviewed. It is exercised with a synthetic node in test_unreviewed_node_is_rejected.
    assert set(RULE_CASES) | {"N401"} == set(RULES)


def test_unreviewed_node_is_rejected() -> None:
    class FutureNode(ast.stmt):
        _fields = ()

    tree = ast.parse(OK)
    node = FutureNode()
    node.lineno, node.col_offset = 2, 4
    tree.body[0].body.insert(0, node)  # type: ignore[attr-defined]
    auditor = _Auditor("<x>", OK.splitlines(), "check", AuditLimits())
    auditor.run(tree)
    assert [f.code for f in auditor.findings] == ["N401"]
    assert "FutureNode" in auditor.findings[0].message


@pytest.mark.parametrize("code", sorted(RULE_CASES))
def test_rule_flags_violation_and_spares_non_violation(code: str) -> None:
    bad, good = RULE_CASES[code]
    assert code in audit(bad).codes
    assert code not in audit(good).codes
    assert audit(good).ok, audit(good).findings


def test_rule_codes_are_family_letter_plus_three_digits() -> None:
    for code, rule in RULES.items():
        assert code == rule.code
        assert code[0] in "SMINAK" and code[1:].isdigit() and len(code) == 4
        assert not rule.name.startswith(("no-", "banned-")), rule.name
        assert rule.summary and rule.why and rule.example and rule.instead


def test_findings_carry_position_rule_message_and_hint() -> None:
    report = audit("import numpy as np\n\ndef check(frame):\n    return np.f2py.os\n", path="x.py")
    finding = next(f for f in report.findings if f.code == "A504")
    assert (finding.path, finding.line, finding.col) == ("x.py", 4, 15)
    assert finding.name == "numpy-name-not-allowed"
    assert "f2py" in finding.message and finding.hint


def test_columns_are_one_based_characters_not_bytes() -> None:
    src = "def check(frame):\n    s = 'ééé'; return open\n"
    finding = next(f for f in audit(src).findings if f.code == "A502")
    assert finding.col == src.splitlines()[1].index("open") + 1


def test_fullwidth_dunder_is_caught_before_normalisation() -> None:
    report = audit("def check(frame):\n    return frame._\uff3fclass\uff3f\uff3f is None\n")
    assert "S105" in report.codes and "A501" in report.codes


def test_while_loop_with_return_is_not_infinite() -> None:
    src = "def check(frame):\n    i = 0\n    while True:\n        i += 1\n        if i > 3:\n            return True\n"
    assert audit(src).ok


def test_annotations_are_accepted_and_ignored() -> None:
    src = "import numpy as np\ndef check(frame: np.ndarray) -> bool:\n    x: int = 3\n    return bool(frame.mean() > x)\n"
    assert audit(src).ok


def test_module_constants_may_be_tuples_of_numbers() -> None:
    assert audit("YELLOW = (255, 255, 0)\nTOL = -3\n" + OK).ok


def test_dict_of_keywords_is_a_module_constant() -> None:
    assert audit("COLORS = dict(key=(255, 255, 0), door=(200, 120, 10))\n" + OK).ok
    assert audit("COLORS = dict([('key', 1)])\n" + OK).codes == ("M204",)


def test_str_format_is_string_formatting() -> None:
    src = "def check(frame):\n    s = '{}'.format(1)\n    return True\n"
    assert audit(src).codes == ("N415",)


def test_custom_entry_name() -> None:
    src = "def is_done(frame):\n    return True\n"
    assert audit(src, entry="is_done").ok
    assert audit(src).codes == ("M202",)


def test_oversize_limit_is_configurable() -> None:
    assert audit(OK, limits=AuditLimits(max_chars=10)).codes == ("S102",)


def test_non_str_source_is_a_finding() -> None:
    assert audit(b"def check(frame): pass").codes == ("S101",)  # type: ignore[arg-type]


# --- robustness: the auditor returns a report for any input -------------------------------


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=400))
def test_audit_never_raises_on_arbitrary_text(source: str) -> None:
    report = audit(source)
    assert isinstance(report.ok, bool)


SOURCES = [a["code"] for a in load_attacks()]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.sampled_from(SOURCES),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.text(max_size=6)),
        min_size=1,
        max_size=4,
    ),
)
def test_audit_never_raises_on_mutated_sources(
    source: str, edits: list[tuple[int, int, str]]
) -> None:
    for raw_pos, cut, insert in edits:
        pos = raw_pos % (len(source) + 1)
        source = source[:pos] + insert + source[pos + cut :]
    report = audit(source)
    for f in report.findings:
        assert f.line >= 1 and f.col >= 1 and f.code in RULES


def test_audit_survives_deep_nesting_bombs() -> None:
    for src in ("x = " + "[" * 5000 + "]" * 5000, "x = " + "-" * 100_000 + "1", "(" * 300):
        report = audit(src)
        assert not report.ok


def test_accepted_sources_roundtrip_through_ast() -> None:
    rng = random.Random(0)
    for entry in load_attacks():
        if entry["category"] == "benign":
            tree = ast.parse(entry["code"])
            assert audit(ast.unparse(tree)).ok, entry["id"]
    assert rng.random() < 1


def test_json_finding_has_stable_keys() -> None:
    f = audit("import os\n" + OK).findings[0]
    data = json.loads(json.dumps(f.to_json()))
    assert set(data) == {
        "code",
        "name",
        "message",
        "hint",
        "severity",
        "filename",
        "location",
        "end_location",
        "url",
    }


def test_finally_rule_spares_nested_functions_and_inner_loops() -> None:
    src = (
        "def check(frame):\n    try:\n        x = 1\n    finally:\n"
        "        for i in range(3):\n            if i:\n                break\n"
        "        f = lambda: 1\n    return True\n"
    )
    assert audit(src).ok


def test_byte_order_mark_is_accepted() -> None:
    assert audit("\ufeff" + OK).ok


def test_typing_names_are_only_for_annotations() -> None:
    src = "from typing import Tuple\ndef check(frame) -> bool:\n    return Tuple is None\n"
    assert audit(src).codes == ("A502",)


@pytest.mark.parametrize(
    ("expression", "codes"),
    [
        ("np.linalg.norm(frame, axis=2)", ()),
        ("np.dot(frame, [0.3, 0.6, 0.1])", ()),
        ("isinstance(frame, np.ndarray)", ()),
        ("np.logical_and.reduce([frame > 0, frame < 9])", ()),
        ("list(map(tuple, frame))", ()),
        ("np.linalg.svd(frame)", ("A504",)),
        ("np.linalg.inv(frame)", ("A504",)),
        ("np.logical_and.accumulate(frame)", ("A504",)),
        ("np.add.reduce(frame)", ("A503",)),
        ("np.ndarray.mro()", ("A503",)),
        ("np.matmul(frame, frame)", ("A504",)),
    ],
)
def test_numpy_members_are_audited_by_their_own_tables(
    expression: str, codes: tuple[str, ...]
) -> None:
    src = f"import numpy as np\n\ndef check(frame):\n    return bool({expression})\n"
    assert audit(src).codes == codes


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("H, W = 8", "cannot unpack int 8 into 2 names"),
        ("H, W = 1, 2, 3", "2 names on the left, 3 values on the right"),
        ("[A, B, C] = [1, 2]", "3 names on the left, 2 values on the right"),
        ("A, B = None", "cannot unpack NoneType"),
        ("A, B = 'abc'", "2 names on the left, 3 values on the right"),
        ("X = A, B = 1, 2, 3", "2 names on the left, 3 values on the right"),
    ],
)
def test_module_unpacking_that_cannot_work_is_refused_by_the_audit(line: str, why: str) -> None:
    """A tuple target whose literal right-hand side has the wrong arity never reaches the loader."""
    report = audit(line + "\n" + OK)
    assert not report.ok
    (finding,) = [f for f in report.findings if f.code == "M204"]
    assert why in finding.message and finding.line == 1


@pytest.mark.parametrize("line", ["H, W = 8, 8", "A, B = 'ab'", "P = (1, 2)\nA, B = P"])
def test_module_unpacking_that_works_passes(line: str) -> None:
    assert audit(line + "\n" + OK).ok


@pytest.mark.parametrize("name", ["np", "math", "count_color", "len"])
def test_a_handler_may_not_rebind_a_provided_name(name: str) -> None:
    # `except E as np` makes np a local of the whole function, as `np = ...` does (A505)
    code = (
        "import numpy as np\nimport math\n\n\ndef check(frame):\n    try:\n"
        f"        return bool(frame[0, 0, 0] > 1)\n    except ValueError as {name}:\n"
        "        return False\n"
    )
    report = audit(code)
    assert "A505" in {f.code for f in report.findings}
    assert audit(code.replace(f"ValueError as {name}", "ValueError as err")).ok


# --- private names (`_mask`): renamed, never refused -------------------------------------------

PRIVATE_HELPERS = (
    "import numpy as np\n\n_RED = (255, 0, 0)\n\n\ndef _mask(frame, rgb):\n"
    '    """A helper named the way models name theirs."""\n'
    "    return np.all(frame == np.array(rgb), axis=-1)\n\n\n"
    "def check(frame):\n    _m = _mask(frame, _RED)\n    private_mask = 3\n"
    "    return bool(_m.sum() >= private_mask)\n"
)


def test_private_names_are_renamed_consistently_and_keep_their_lines() -> None:
    from sandbox.audit import public_names

    out = public_names(PRIVATE_HELPERS)
    assert out.count("\n") == PRIVATE_HELPERS.count("\n")
    # `private_mask` is the checker's own name: `_mask` becomes `private_mask2`
    assert "def private_mask2(frame, rgb):" in out and "private_mask = 3" in out
    assert "private_RED" in out and "_RED" not in out.replace("private_RED", "")
    assert public_names(out) == out
    assert audit(PRIVATE_HELPERS).ok, audit(PRIVATE_HELPERS).findings


def test_a_checker_with_private_helpers_answers_as_plain_python() -> None:
    import numpy as np

    from sandbox import compile_checker

    frame = np.zeros((4, 4, 3), np.uint8)
    frame[:2, :2] = (255, 0, 0)
    checker = compile_checker(PRIVATE_HELPERS)
    assert checker(frame) is True and checker(np.zeros_like(frame)) is False


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("def check(frame):\n    return frame._base is None\n", "an attribute"),
        ("def check(frame):\n    __x = 1\n    return True\n", "two underscores"),
        ("def check(frame):\n    _getattr_ = 1\n    return True\n", "a guard-style name"),
        ("def check(frame):\n    __class__ = 1\n    return True\n", "a dunder"),
        ("def check(frame):\n    _x_ = 1\n    return True\n", "a trailing underscore"),
    ],
)
def test_underscore_names_that_are_not_private_names_stay_refused(source: str, what: str) -> None:
    from sandbox.audit import public_names

    assert "A501" in audit(source).codes, what
    assert "private" not in public_names(source), what


def test_a_private_name_is_not_merged_into_a_name_that_normalises_to_its_new_name() -> None:
    from sandbox.audit import public_names

    source = "def check(frame):\n    _mask = 1\n    \uff50rivate_mask = 2\n    return _mask == 1\n"
    assert "private_mask2 = 1" in public_names(source)


# found by a red-team helper: str.splitlines breaks lines where the parser does not ("\f", a
# lone "\r" is "\n" to the parser), which once moved every later rename up a line
@pytest.mark.parametrize(
    "first_line", ["#\x0c", "# a\rb = 1", "S = 'x\x0cy'", "T = 1\x0b", "U = '\u2028'"]
)
def test_a_rename_never_lands_anywhere_but_on_the_name(first_line: str) -> None:
    import numpy as np

    from sandbox import compile_checker
    from sandbox.audit import public_names

    source = (
        f"{first_line}\ndef _helper(box):\n    box[0] = False;#ab= 1; box[0] = True\n"
        "def check(frame):\n    box = [False]\n    _helper(box)\n    return box[0]\n"
    )
    renamed = public_names(source)
    assert "#ab= 1" in renamed and "private_helper(box)" in renamed
    report = audit(source)
    if report.ok:  # the written program's answer (the comment stays a comment)
        assert compile_checker(source)(np.zeros((2, 2, 3), np.uint8)) is False
    else:
        assert "S104" in report.codes, report.codes  # \v, U+2028: refused as written


def test_a_source_that_parses_but_does_not_tokenize_is_refused() -> None:
    # a fullwidth `f` would be S105; tokenize fails on the trailing backslash and CR LF
    source = "def check(\uff46rame):\n    return bool(frame.mean() >= 0)\n\\\r\n"
    import ast

    ast.parse(source)  # the parser accepts it
    assert "S107" in audit(source).codes


def test_compile_checker_audits_the_very_text_it_compiles() -> None:
    from sandbox import compile_checker
    from sandbox.errors import AuditError

    with pytest.raises(AuditError):  # a second BOM is a character like any other
        compile_checker("\ufeff\ufeffdef check(frame):\n    _a = 1\n    return _a == 1\n")
