"""The capability surface as data: every name, function and attribute a checker may reach.

Provides:
    BUILTIN_NAMES: builtins a checker may call (guarded versions are bound at run time).
    EXCEPTION_NAMES: exception classes a checker may catch or raise.
    NUMPY_FUNCTIONS, NUMPY_DTYPES, NUMPY_CONSTANTS: what ``np.<name>`` may be.
    NUMPY_TYPES: numpy types a checker may name for ``isinstance`` only (``np.ndarray``).
    NUMPY_SUBMODULES: ``np.<module>.<name>`` (``np.linalg.norm``); NUMPY_LINALG is its one table.
    NUMPY_UFUNC_METHODS: ``np.<ufunc>.<method>`` (``np.logical_and.reduce``).
    NUMPY_MEMBERS: both of those: what the audit accepts after ``np.<name>.``.
    NUMPY_NAMES: every name ``np.<name>`` may be.
    MATH_NAMES: what ``math.<name>`` may be.
    VISION_SIGNATURES: each vision helper's parameters: the one declaration its facade entry,
        JIT twin, name tables and warm-up are derived from.
    VISION_PARAMETERS: those signatures parsed; VISION_KINDS: the parameter kinds they may use.
    VISION_NAMES: the vision helpers, bound as global names.
    ATTRIBUTES: per-type attribute allow-lists (``ndarray``, ``generic``, ``dtype``, ``list`` ...).
    ALL_ATTRIBUTES: the union of those lists (what the static audit accepts at all).
    IMPORTABLE: module name -> the facade it binds.

The static audit (L1) and the run-time guards (L2/L3) both read these tables, so a name is allowed
in exactly one place. Everything is frozen; add a name only after reviewing what it can reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "ALL_ATTRIBUTES",
    "ATTRIBUTES",
    "BUILTIN_NAMES",
    "EXCEPTION_NAMES",
    "IMPORTABLE",
    "INERT_IMPORTS",
    "MATH_NAMES",
    "NUMPY_CONSTANTS",
    "NUMPY_DTYPES",
    "NUMPY_FUNCTIONS",
    "NUMPY_LINALG",
    "NUMPY_MEMBERS",
    "NUMPY_NAMES",
    "NUMPY_SUBMODULES",
    "NUMPY_TYPES",
    "NUMPY_UFUNC_METHODS",
    "PROVIDED_NAMES",
    "RESERVED_NAMES",
    "VISION_KINDS",
    "VISION_NAMES",
    "VISION_PARAMETERS",
    "VISION_SIGNATURES",
]

#: Builtins a checker may use. Each one that iterates or allocates is replaced by a guarded version.
BUILTIN_NAMES = frozenset(
    "abs all any bool dict divmod enumerate float int isinstance len list map max min print range "
    "reversed round set slice sorted sum tuple zip".split()
)

#: Exceptions a checker may name in ``except``/``raise``. No BaseException, SystemExit,
#: KeyboardInterrupt or GeneratorExit: those would escape the engine or swallow its signals.
EXCEPTION_NAMES = frozenset(
    "ArithmeticError AssertionError Exception FloatingPointError IndexError KeyError LookupError "
    "OverflowError RuntimeError TypeError ValueError ZeroDivisionError".split()
)

#: numpy functions behind ``np.<name>``; each is wrapped (argument, dtype and size checks).
NUMPY_FUNCTIONS = frozenset(
    """
    abs absolute add all allclose amax amin any arange arccos arcsin arctan arctan2 argmax argmin
    argsort argwhere around array array_equal asarray average bincount ceil clip concatenate cos
    count_nonzero cumsum deg2rad diff digitize divide dot equal exp expand_dims flatnonzero flip
    fliplr flipud floor floor_divide fmax fmin full full_like greater greater_equal histogram hstack hypot
    isclose isfinite isin isinf isnan less less_equal linspace log log10 log1p log2 logical_and
    logical_not logical_or logical_xor max maximum mean median min minimum mod multiply nanmax
    nanmean nanmin nonzero not_equal ones ones_like percentile prod ptp quantile rad2deg ravel
    reshape rint rot90 round searchsorted sign sin sort sqrt square squeeze stack std subtract sum
    tan transpose trunc unique var vstack where zeros zeros_like
    """.split()
)

#: numpy scalar types behind ``np.<name>``: callable to convert, usable as ``dtype=``.
NUMPY_DTYPES = frozenset(
    "bool_ float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64".split()
)

#: numpy constants behind ``np.<name>``.
NUMPY_CONSTANTS = frozenset("e inf nan newaxis pi".split())

#: numpy types a checker may name, for ``isinstance(x, np.ndarray)`` only: behind ``np.<name>``
#: is a stand-in that refuses to be called or passed to numpy (``np.ndarray(n)`` would hand out
#: uninitialised memory).
NUMPY_TYPES = frozenset({"ndarray"})

#: ``np.linalg.<name>``: only norms that take one pass over the data (checked per call).
NUMPY_LINALG = frozenset({"norm"})

#: ``np.<module>.<name>``: numpy submodules in the facade, each with its own table.
NUMPY_SUBMODULES: Mapping[str, frozenset[str]] = MappingProxyType({"linalg": NUMPY_LINALG})

#: ``np.<ufunc>.<method>``: reductions of a list of arrays (``np.logical_and.reduce([m1, m2])``).
NUMPY_UFUNC_METHODS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"logical_and": frozenset({"reduce"}), "logical_or": frozenset({"reduce"})}
)

#: ``np.<name>.<member>``: submodule functions and ufunc methods (what the audit accepts there).
NUMPY_MEMBERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {**NUMPY_SUBMODULES, **NUMPY_UFUNC_METHODS}
)

#: Every name ``np.<name>`` may be (what the static audit accepts after ``np.``).
NUMPY_NAMES = (
    NUMPY_FUNCTIONS | NUMPY_DTYPES | NUMPY_CONSTANTS | NUMPY_TYPES | frozenset(NUMPY_SUBMODULES)
)

#: ``math.<name>``: pure functions on floats, plus constants. No factorial/comb/perm (unbounded).
MATH_NAMES = frozenset(
    """
    acos asin atan atan2 ceil copysign cos degrees dist e exp fabs floor hypot inf isclose isfinite
    isinf isnan log log10 log2 nan pi radians sin sqrt tan tau trunc
    """.split()
)

#: Vision helper name -> its parameters, in order, with their defaults: the one place a helper is
#: declared. A parameter's name is its kind, which fixes how both paths validate it: ``frame`` and
#: ``first`` (H x W x 3 uint8), ``mask`` (H x W bool), ``rgb`` (three ints in 0..255, passed to the
#: kernel as three scalars), ``tol`` (an int in 0..255), ``connectivity`` (4 or 8), ``y0 x0 y1 x1``
#: (box corners, clipped). :mod:`sandbox.vision` implements each helper (a kernel and its checked
#: wrapper, registered under this name) and derives ``VISION_HELPERS``, ``VISION_KERNELS`` and the
#: warm-up from this table; :mod:`sandbox.jit_helpers` generates the jitted twin from it.
VISION_SIGNATURES: Mapping[str, str] = MappingProxyType(
    {
        "bbox": "mask",
        "centroid": "mask",
        "changed_fraction": "frame, first, tol=0",
        "color_mask": "frame, rgb, tol=0",
        "component_sizes": "mask, connectivity=4",
        "connected_components": "mask, connectivity=4",
        "count_color": "frame, rgb, tol=0",
        "largest_component": "mask, connectivity=4",
        "mean_color": "frame, mask",
        "pixel_count": "mask",
        "region_change": "frame, first, y0, x0, y1, x1, tol=0",
        "region_mean": "frame, y0, x0, y1, x1",
    }
)

#: The parameter kinds a vision signature may use.
VISION_KINDS = frozenset(
    {"frame", "first", "mask", "rgb", "tol", "connectivity", "y0", "x0", "y1", "x1"}
)


def _parameters(name: str, signature: str) -> tuple[tuple[str, int | None], ...]:
    """``"frame, rgb, tol=0"`` -> ``(("frame", None), ("rgb", None), ("tol", 0))`` (checked)."""
    out: list[tuple[str, int | None]] = []
    for part in signature.split(","):
        kind, _, default = part.strip().partition("=")
        if kind not in VISION_KINDS or (out and out[-1][1] is not None and not default):
            raise ValueError(f"VISION_SIGNATURES[{name!r}]: bad parameter {part.strip()!r}")
        out.append((kind, int(default) if default else None))
    return tuple(out)


#: Vision helper name -> ``((kind, default or None), ...)``, parsed from VISION_SIGNATURES.
VISION_PARAMETERS: Mapping[str, tuple[tuple[str, int | None], ...]] = MappingProxyType(
    {name: _parameters(name, text) for name, text in VISION_SIGNATURES.items()}
)

#: Vision helpers (see :mod:`sandbox.vision`), bound as global names in every checker.
VISION_NAMES = frozenset(VISION_SIGNATURES)

#: Modules whose imports are accepted and dropped: they only serve annotations, which are stripped.
INERT_IMPORTS = frozenset({"typing", "__future__"})

#: Names RestrictedPython reserves (its print machinery, exec/eval, builtins): never bound by checkers.
RESERVED_NAMES = frozenset({"breakpoint", "builtins", "eval", "exec", "print", "printed"})

#: Modules a checker may import, and the facade name the import binds.
IMPORTABLE: Mapping[str, str] = MappingProxyType({"numpy": "numpy", "math": "math"})

_ARRAY_METHODS = frozenset(
    """
    all any argmax argmin argsort astype clip copy cumsum dtype flatten item max mean min nbytes
    ndim nonzero prod ravel reshape round shape size sort squeeze std sum swapaxes T tolist
    transpose var itemsize
    """.split()
)

#: Per-type attribute allow-lists, keyed by the type's name as the guards classify objects.
ATTRIBUTES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ndarray": _ARRAY_METHODS,
        "generic": _ARRAY_METHODS,
        "dtype": frozenset({"itemsize", "kind", "name"}),
        "list": frozenset(
            "append clear copy count extend index insert pop remove reverse sort".split()
        ),
        "dict": frozenset("clear copy get items keys pop setdefault update values".split()),
        "set": frozenset(
            "add clear copy difference discard intersection issubset issuperset remove union "
            "update".split()
        ),
        "tuple": frozenset({"count", "index"}),
        "str": frozenset({"endswith", "lower", "startswith", "strip", "upper"}),
        "float": frozenset({"is_integer"}),
        "mappingproxy": frozenset({"copy", "get", "items", "keys", "values"}),
        "frozenset": frozenset("copy difference intersection issubset issuperset union".split()),
    }
)

#: Every attribute name that is allowed on some type: what the static audit accepts at all.
ALL_ATTRIBUTES = frozenset().union(*ATTRIBUTES.values())

#: Every global name a checker can read without defining it.
PROVIDED_NAMES = BUILTIN_NAMES | EXCEPTION_NAMES | VISION_NAMES
