"""Tests of sandbox.vision: exact hand-built cases, numpy references, validation, freshness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import vision
from sandbox.vision import (
    MAX_PIXELS,
    VISION_HELPERS,
    VISION_KERNELS,
    bbox,
    centroid,
    changed_fraction,
    color_mask,
    component_sizes,
    connected_components,
    count_color,
    largest_component,
    mean_color,
    pixel_count,
    region_change,
    region_mean,
)

SETTINGS = settings(max_examples=50, deadline=None, database=None)

YELLOW = (255, 255, 0)
RED = (255, 0, 0)
BLACK = (0, 0, 0)

# Near-duplicates on purpose, so that tolerances decide matches.
PALETTE = [
    BLACK,
    (3, 0, 0),
    YELLOW,
    (250, 250, 5),
    RED,
    (0, 0, 255),
    (128, 128, 128),
    (130, 126, 128),
    (255, 255, 255),
]


def readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


def scene() -> np.ndarray:
    """Black 16x20 frame; yellow 3x4 rectangle at rows 2..4, cols 5..8; red pixel at (10, 15)."""
    f = np.zeros((16, 20, 3), dtype=np.uint8)
    f[2:5, 5:9] = YELLOW
    f[10, 15] = RED
    return readonly(f)


# ---------------------------------------------------------------------------------------------
# Strategies: frames and masks built from a background plus drawn rectangles
# ---------------------------------------------------------------------------------------------

colours = st.one_of(
    st.sampled_from(PALETTE),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
)
tolerances = st.one_of(st.sampled_from([0, 1, 3, 5, 254, 255]), st.integers(0, 255))


def draw_rects(draw: st.DrawFn, image: np.ndarray, values: st.SearchStrategy[Any], n: int) -> None:
    h, w = image.shape[:2]
    for _ in range(draw(st.integers(0, n))):
        y0 = draw(st.integers(0, h - 1))
        x0 = draw(st.integers(0, w - 1))
        y1 = draw(st.integers(y0 + 1, min(h, y0 + 1 + draw(st.sampled_from([1, 2, h])))))
        x1 = draw(st.integers(x0 + 1, min(w, x0 + 1 + draw(st.sampled_from([1, 2, w])))))
        image[y0:y1, x0:x1] = draw(values)


@st.composite
def frames(draw: st.DrawFn, max_side: int = 20) -> np.ndarray:
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    f = np.empty((h, w, 3), dtype=np.uint8)
    f[:] = draw(colours)
    draw_rects(draw, f, colours, 5)
    return readonly(f)


@st.composite
def frame_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A first frame and a later one that differs from it by a few drawn rectangles."""
    first = draw(frames())
    frame = first.copy()
    draw_rects(draw, frame, colours, 3)
    return readonly(frame), first


@st.composite
def masks(draw: st.DrawFn, max_side: int = 16, shape: tuple[int, int] | None = None) -> np.ndarray:
    if shape is None:
        shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    h, w = shape
    m = np.full((h, w), draw(st.booleans()), dtype=bool)
    draw_rects(draw, m, st.booleans(), 6)
    for y, x in draw(st.lists(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)), max_size=8)):
        m[y, x] = not m[y, x]
    return readonly(m)


boxes = st.tuples(*(st.integers(-5, 25) for _ in range(4)))


# ---------------------------------------------------------------------------------------------
# Straightforward references
# ---------------------------------------------------------------------------------------------


def ref_color_mask(frame: np.ndarray, rgb: tuple[int, int, int], tol: int) -> np.ndarray:
    diff = np.abs(frame.astype(np.int64) - np.array(rgb, dtype=np.int64))
    out: np.ndarray = np.all(diff <= tol, axis=-1)
    return out


def ref_changed(frame: np.ndarray, first: np.ndarray, tol: int) -> np.ndarray:
    out: np.ndarray = np.abs(frame.astype(np.int64) - first.astype(np.int64)).max(axis=-1) > tol
    return out


def ref_labels(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """Union-find over pixels, then labels renumbered by the raster order of first pixels."""
    h, w = mask.shape
    parent = list(range(h * w))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    offsets = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if connectivity == 8 else [])
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            for dy, dx in offsets:
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx]:
                    parent[find(y * w + x)] = find(ny * w + nx)
    labels = np.zeros((h, w), dtype=np.int32)
    names: dict[int, int] = {}
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                labels[y, x] = names.setdefault(find(y * w + x), len(names) + 1)
    return labels, len(names)


def clip(box: tuple[int, int, int, int], h: int, w: int) -> tuple[slice, slice]:
    y0, x0, y1, x1 = (min(max(v, 0), n) for v, n in zip(box, (h, w, h, w), strict=True))
    return slice(y0, y1), slice(x0, x1)


# ---------------------------------------------------------------------------------------------
# Hand-built cases with exact numbers
# ---------------------------------------------------------------------------------------------


def test_scene_colours() -> None:
    f = scene()
    assert count_color(f, YELLOW) == 12
    assert count_color(f, RED) == 1
    assert count_color(f, BLACK) == 16 * 20 - 13
    assert count_color(f, (250, 250, 5), tol=5) == 12
    assert count_color(f, (250, 250, 5), tol=4) == 0
    mask = color_mask(f, YELLOW)
    assert mask.shape == (16, 20)
    assert mask.dtype == np.bool_
    expected = np.zeros((16, 20), dtype=bool)
    expected[2:5, 5:9] = True
    np.testing.assert_array_equal(mask, expected)


def test_scene_mask_measures() -> None:
    f = scene()
    yellow = color_mask(f, YELLOW)
    assert pixel_count(yellow) == 12
    assert bbox(yellow) == (2, 5, 4, 8)
    assert centroid(yellow) == (3.0, 6.5)
    assert mean_color(f, yellow) == (255.0, 255.0, 0.0)
    assert bbox(color_mask(f, RED)) == (10, 15, 10, 15)
    assert centroid(color_mask(f, RED)) == (10.0, 15.0)


def test_scene_components() -> None:
    f = scene()
    not_black = ~color_mask(f, BLACK)
    labels, n = connected_components(not_black)
    assert n == 2
    assert labels.dtype == np.int32
    assert set(np.unique(labels[2:5, 5:9])) == {1}
    assert labels[10, 15] == 2
    assert int((labels == 0).sum()) == 16 * 20 - 13
    sizes = component_sizes(not_black)
    assert sizes.dtype == np.int64
    assert sizes.tolist() == [12, 1]
    assert largest_component(not_black) == 12
    assert largest_component(not_black, connectivity=8) == 12


def test_scene_change_and_regions() -> None:
    f = scene()
    black = readonly(np.zeros_like(f))
    assert changed_fraction(f, black) == 13 / 320
    assert changed_fraction(f, f) == 0.0
    assert changed_fraction(f, black, tol=255) == 0.0
    assert region_change(f, black, 0, 0, 8, 10) == 12 / 80
    assert region_change(f, black, 10, 15, 11, 16) == 1.0
    assert region_change(f, black, -100, -100, 100, 100) == 13 / 320
    assert region_change(f, black, 5, 5, 5, 10) == 0.0
    assert region_change(f, black, 8, 0, 4, 10) == 0.0
    assert region_mean(f, 2, 5, 5, 9) == (255.0, 255.0, 0.0)
    assert region_mean(f, 2, 5, 5, 10) == (204.0, 204.0, 0.0)
    assert region_mean(f, 16, 0, 30, 20) == (-1.0, -1.0, -1.0)
    assert region_mean(f, -5, -5, 1, 1) == (0.0, 0.0, 0.0)


def test_no_uint8_wraparound() -> None:
    black = readonly(np.zeros((3, 4, 3), dtype=np.uint8))
    white = readonly(np.full((3, 4, 3), 255, dtype=np.uint8))
    # 0 - 255 wraps to 1 in uint8 arithmetic; the helpers must see 255.
    assert count_color(black, (255, 255, 255), tol=1) == 0
    assert count_color(white, (0, 0, 0), tol=254) == 0
    assert count_color(white, (0, 0, 0), tol=255) == 12
    assert not color_mask(black, (255, 0, 0), tol=1).any()
    assert changed_fraction(black, white, tol=254) == 1.0
    assert changed_fraction(white, black, tol=254) == 1.0
    assert region_change(black, white, 0, 0, 3, 4, tol=254) == 1.0
    # Sums do not overflow either.
    big = readonly(np.full((300, 300, 3), 255, dtype=np.uint8))
    assert mean_color(big, np.ones((300, 300), dtype=bool)) == (255.0, 255.0, 255.0)
    assert region_mean(big, 0, 0, 300, 300) == (255.0, 255.0, 255.0)


def test_empty_masks() -> None:
    for shape in [(1, 1), (5, 7), (0, 4), (3, 0)]:
        empty = np.zeros(shape, dtype=bool)
        assert pixel_count(empty) == 0
        assert bbox(empty) == (-1, -1, -1, -1)
        assert centroid(empty) == (-1.0, -1.0)
        labels, n = connected_components(empty)
        assert n == 0
        assert labels.shape == shape
        assert not labels.any()
        assert component_sizes(empty).shape == (0,)
        assert largest_component(empty, connectivity=8) == 0
    f = scene()
    assert mean_color(f, np.zeros((16, 20), dtype=bool)) == (-1.0, -1.0, -1.0)


def test_frames_without_pixels() -> None:
    f = np.zeros((0, 5, 3), dtype=np.uint8)
    assert count_color(f, BLACK) == 0
    assert color_mask(f, BLACK).shape == (0, 5)
    assert changed_fraction(f, f) == 0.0
    assert region_change(f, f, 0, 0, 5, 5) == 0.0
    assert region_mean(f, 0, 0, 5, 5) == (-1.0, -1.0, -1.0)


def test_connectivity_on_diagonals() -> None:
    diag = np.eye(4, dtype=bool)
    labels, n = connected_components(diag, connectivity=4)
    assert n == 4
    np.testing.assert_array_equal(labels, np.diag([1, 2, 3, 4]).astype(np.int32))
    labels, n = connected_components(diag, connectivity=8)
    assert n == 1
    np.testing.assert_array_equal(labels, diag.astype(np.int32))
    anti = np.fliplr(diag)
    assert connected_components(anti, connectivity=4)[1] == 4
    assert connected_components(anti, connectivity=8)[1] == 1
    assert component_sizes(anti, connectivity=4).tolist() == [1, 1, 1, 1]
    assert component_sizes(anti, connectivity=8).tolist() == [4]
    checker = (np.add.outer(np.arange(5), np.arange(5)) % 2 == 0).astype(bool)
    assert connected_components(checker)[1] == 13
    assert connected_components(checker, connectivity=8)[1] == 1
    assert largest_component(checker) == 1
    assert largest_component(checker, connectivity=8) == 13


def test_labels_follow_raster_order_of_first_pixel() -> None:
    mask = np.array(
        [
            [0, 1, 0, 1],
            [1, 1, 0, 0],
            [0, 0, 1, 1],
        ],
        dtype=bool,
    )
    labels, n = connected_components(mask)
    assert n == 3
    np.testing.assert_array_equal(labels, [[0, 1, 0, 2], [1, 1, 0, 0], [0, 0, 3, 3]])
    assert component_sizes(mask).tolist() == [3, 1, 2]
    labels8, n8 = connected_components(mask, connectivity=8)
    assert n8 == 2
    np.testing.assert_array_equal(labels8, [[0, 1, 0, 2], [1, 1, 0, 0], [0, 0, 1, 1]])


def test_large_components_use_no_recursion() -> None:
    full = np.ones((512, 512), dtype=bool)
    assert largest_component(full) == 512 * 512
    # A one-pixel-wide serpentine: a single component, 4-connected, with a very long path.
    snake = np.zeros((301, 301), dtype=bool)
    snake[::2, :] = True
    snake[1::4, -1] = True
    snake[3::4, 0] = True
    labels, n = connected_components(snake)
    assert n == 1
    assert component_sizes(snake).tolist() == [int(snake.sum())]
    assert int(labels.max()) == 1


# ---------------------------------------------------------------------------------------------
# Property tests against the numpy references
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(frames(), colours, tolerances)
def test_color_mask_and_count_match_reference(
    frame: np.ndarray, rgb: tuple[int, int, int], tol: int
) -> None:
    expected = ref_color_mask(frame, rgb, tol)
    np.testing.assert_array_equal(color_mask(frame, rgb, tol), expected)
    assert count_color(frame, rgb, tol) == int(expected.sum())
    # A pixel of the frame used as the colour always matches itself.
    pixel = frame[frame.shape[0] // 2, frame.shape[1] // 2]
    assert count_color(frame, pixel) == int(ref_color_mask(frame, tuple(pixel.tolist()), 0).sum())


@SETTINGS
@given(masks())
def test_mask_measures_match_reference(mask: np.ndarray) -> None:
    assert pixel_count(mask) == int(mask.sum())
    ys, xs = np.nonzero(mask)
    if ys.size:
        assert bbox(mask) == (ys.min(), xs.min(), ys.max(), xs.max())
        cy, cx = centroid(mask)
        assert cy == pytest.approx(ys.mean(), rel=1e-12)
        assert cx == pytest.approx(xs.mean(), rel=1e-12)
    else:
        assert bbox(mask) == (-1, -1, -1, -1)
        assert centroid(mask) == (-1.0, -1.0)


@SETTINGS
@given(masks(), st.sampled_from([4, 8]))
def test_components_match_reference(mask: np.ndarray, connectivity: int) -> None:
    expected_labels, expected_n = ref_labels(mask, connectivity)
    labels, n = connected_components(mask, connectivity)
    assert n == expected_n
    np.testing.assert_array_equal(labels, expected_labels)
    sizes = component_sizes(mask, connectivity)
    np.testing.assert_array_equal(sizes, np.bincount(expected_labels.ravel(), minlength=n + 1)[1:])
    assert largest_component(mask, connectivity) == (int(sizes.max()) if n else 0)
    # 8-connectivity can only merge 4-connected components.
    assert connected_components(mask, 8)[1] <= connected_components(mask, 4)[1]


@SETTINGS
@given(frames(max_side=16), st.data())
def test_mean_color_matches_reference(frame: np.ndarray, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        mask = data.draw(masks(shape=frame.shape[:2]))
    else:
        mask = color_mask(frame, tuple(frame[0, 0].tolist()), tol=data.draw(tolerances))
    got = mean_color(frame, mask)
    if mask.any():
        assert got == pytest.approx(tuple(frame[mask].astype(np.float64).mean(axis=0)), rel=1e-12)
    else:
        assert got == (-1.0, -1.0, -1.0)


@SETTINGS
@given(frame_pairs(), tolerances, boxes)
def test_change_matches_reference(
    pair: tuple[np.ndarray, np.ndarray], tol: int, box: tuple[int, int, int, int]
) -> None:
    frame, first = pair
    changed = ref_changed(frame, first, tol)
    assert changed_fraction(frame, first, tol) == pytest.approx(changed.mean(), rel=1e-12)
    window = changed[clip(box, *changed.shape)]
    expected = float(window.mean()) if window.size else 0.0
    assert region_change(frame, first, *box, tol=tol) == pytest.approx(expected, rel=1e-12)


@SETTINGS
@given(frames(), boxes)
def test_region_mean_matches_reference(frame: np.ndarray, box: tuple[int, int, int, int]) -> None:
    window = frame[clip(box, *frame.shape[:2])]
    got = region_mean(frame, *box)
    if window.size:
        expected = tuple(window.reshape(-1, 3).astype(np.float64).mean(axis=0))
        assert got == pytest.approx(expected, rel=1e-12)
    else:
        assert got == (-1.0, -1.0, -1.0)


@SETTINGS
@given(frame_pairs(), colours, tolerances)
def test_strided_views_give_the_same_results(
    pair: tuple[np.ndarray, np.ndarray], rgb: tuple[int, int, int], tol: int
) -> None:
    frame, first = pair
    for view, first_view in [
        (frame[::2, ::-1], first[::2, ::-1]),
        (np.asfortranarray(frame), np.asfortranarray(first)),
        (frame.transpose(1, 0, 2), first.transpose(1, 0, 2)),
    ]:
        copy, first_copy = view.copy(), first_view.copy()
        assert count_color(view, rgb, tol) == count_color(copy, rgb, tol)
        np.testing.assert_array_equal(color_mask(view, rgb, tol), color_mask(copy, rgb, tol))
        assert changed_fraction(view, first_view, tol) == changed_fraction(copy, first_copy, tol)
        mask = color_mask(copy, rgb, tol)
        assert mean_color(view, mask) == mean_color(copy, mask)
        assert largest_component(mask.T.T[:, ::-1]) == largest_component(mask[:, ::-1].copy())


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

F = np.zeros((4, 5, 3), dtype=np.uint8)
M = np.zeros((4, 5), dtype=bool)

BAD_INPUTS: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
    (
        color_mask,
        {"frame": [[[0, 0, 0]]], "rgb": RED},
        r"color_mask\(frame=\[\[\[\.\.\.\]\]\]\): .*got list",
    ),
    (color_mask, {"frame": F.astype(np.float32), "rgb": RED}, r"color_mask\(frame=.*dtype float32"),
    (color_mask, {"frame": F.astype(np.int16), "rgb": RED}, r"color_mask\(frame=.*dtype int16"),
    (color_mask, {"frame": F[..., 0], "rgb": RED}, r"color_mask\(frame=.*shape \(4, 5\)"),
    (color_mask, {"frame": np.zeros((4, 5, 4), np.uint8), "rgb": RED}, r"color_mask\(frame="),
    (color_mask, {"frame": np.zeros((1, 4, 5, 3), np.uint8), "rgb": RED}, r"color_mask\(frame="),
    (color_mask, {"frame": F, "rgb": (300, 0, 0)}, r"color_mask\(rgb=\(300, 0, 0\)\)"),
    (color_mask, {"frame": F, "rgb": (-1, 0, 0)}, r"color_mask\(rgb="),
    (color_mask, {"frame": F, "rgb": (1.0, 0, 0)}, r"color_mask\(rgb="),
    (color_mask, {"frame": F, "rgb": (True, 0, 0)}, r"color_mask\(rgb="),
    (color_mask, {"frame": F, "rgb": (np.float64(1), 0, 0)}, r"color_mask\(rgb="),
    (color_mask, {"frame": F, "rgb": (1, 2)}, r"color_mask\(rgb=\(1, 2\)\)"),
    (color_mask, {"frame": F, "rgb": [1, 2, 3, 4]}, r"color_mask\(rgb=\[1, 2, 3, 4\]\)"),
    (color_mask, {"frame": F, "rgb": "red"}, r"color_mask\(rgb='red'\)"),
    (color_mask, {"frame": F, "rgb": b"\x00\x00\x00"}, r"color_mask\(rgb="),
    (color_mask, {"frame": F, "rgb": None}, r"color_mask\(rgb=None\)"),
    (color_mask, {"frame": F, "rgb": {1, 2, 3}}, r"color_mask\(rgb=\{1, 2, 3\}\)"),
    (color_mask, {"frame": F, "rgb": np.array([[1, 2, 3]])}, r"color_mask\(rgb=<ndarray"),
    (color_mask, {"frame": F, "rgb": np.array([1.0, 2.0, 3.0])}, r"color_mask\(rgb=<ndarray"),
    (color_mask, {"frame": F, "rgb": RED, "tol": -1}, r"color_mask\(tol=-1\)"),
    (color_mask, {"frame": F, "rgb": RED, "tol": 256}, r"color_mask\(tol=256\)"),
    (color_mask, {"frame": F, "rgb": RED, "tol": 1.5}, r"color_mask\(tol=1.5\)"),
    (color_mask, {"frame": F, "rgb": RED, "tol": True}, r"color_mask\(tol=True\)"),
    (color_mask, {"frame": F, "rgb": RED, "tol": "1"}, r"color_mask\(tol='1'\)"),
    (count_color, {"frame": F.astype(bool), "rgb": RED}, r"count_color\(frame="),
    (count_color, {"frame": F, "rgb": (0, 0, 256)}, r"count_color\(rgb="),
    (count_color, {"frame": F, "rgb": RED, "tol": None}, r"count_color\(tol=None\)"),
    (pixel_count, {"mask": M.astype(np.uint8)}, r"pixel_count\(mask=.*dtype uint8"),
    (pixel_count, {"mask": M[None]}, r"pixel_count\(mask=.*shape \(1, 4, 5\)"),
    (pixel_count, {"mask": M[0]}, r"pixel_count\(mask="),
    (pixel_count, {"mask": [[True]]}, r"pixel_count\(mask=\[\[True\]\]\)"),
    (bbox, {"mask": F}, r"bbox\(mask="),
    (centroid, {"mask": None}, r"centroid\(mask=None\)"),
    (connected_components, {"mask": M, "connectivity": 6}, r"connected_components\(connectivity"),
    (connected_components, {"mask": M, "connectivity": 4.0}, r"connectivity=4.0"),
    (connected_components, {"mask": M, "connectivity": True}, r"connectivity=True"),
    (connected_components, {"mask": M, "connectivity": "8"}, r"connectivity='8'"),
    (connected_components, {"mask": M.astype(int)}, r"connected_components\(mask="),
    (component_sizes, {"mask": M, "connectivity": 0}, r"component_sizes\(connectivity=0\)"),
    (largest_component, {"mask": M, "connectivity": -4}, r"largest_component\(connectivity"),
    (largest_component, {"mask": F}, r"largest_component\(mask="),
    (mean_color, {"frame": F, "mask": M.T}, r"mean_color\(mask=.*\(4, 5\)"),
    (mean_color, {"frame": F, "mask": M.astype(np.uint8)}, r"mean_color\(mask="),
    (mean_color, {"frame": M, "mask": M}, r"mean_color\(frame="),
    (changed_fraction, {"frame": F, "first": F[:3]}, r"changed_fraction\(first=.*\(4, 5, 3\)"),
    (changed_fraction, {"frame": F, "first": F.astype(np.int32)}, r"changed_fraction\(first="),
    (changed_fraction, {"frame": F, "first": None}, r"changed_fraction\(first=None\)"),
    (changed_fraction, {"frame": None, "first": F}, r"changed_fraction\(frame=None\)"),
    (changed_fraction, {"frame": F, "first": F, "tol": 999}, r"changed_fraction\(tol=999\)"),
    (
        region_change,
        {"frame": F, "first": F, "y0": 1.5, "x0": 0, "y1": 2, "x1": 2},
        r"region_change\(y0=1.5\)",
    ),
    (
        region_change,
        {"frame": F, "first": F, "y0": 0, "x0": None, "y1": 2, "x1": 2},
        r"region_change\(x0=None\)",
    ),
    (
        region_change,
        {"frame": F, "first": F, "y0": 0, "x0": 0, "y1": True, "x1": 2},
        r"region_change\(y1=True\)",
    ),
    (
        region_change,
        {"frame": F, "first": F, "y0": 0, "x0": 0, "y1": 2, "x1": 2, "tol": 300},
        r"region_change\(tol=300\)",
    ),
    (
        region_change,
        {"frame": F, "first": F.T, "y0": 0, "x0": 0, "y1": 2, "x1": 2},
        r"region_change\(first=",
    ),
    (region_mean, {"frame": F, "y0": 0, "x0": "0", "y1": 2, "x1": 2}, r"region_mean\(x0='0'\)"),
    (region_mean, {"frame": F, "y0": 0, "x0": 0, "y1": 2, "x1": 2.0}, r"region_mean\(x1=2.0\)"),
    (region_mean, {"frame": F[0], "y0": 0, "x0": 0, "y1": 2, "x1": 2}, r"region_mean\(frame="),
]


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    BAD_INPUTS,
    ids=[f"{i}-{fn.__name__}" for i, (fn, _, _) in enumerate(BAD_INPUTS)],
)
def test_bad_inputs_raise_value_error(
    fn: Callable[..., Any], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


def test_error_message_names_argument_value_and_expectation() -> None:
    with pytest.raises(ValueError) as info:
        color_mask(F, (300, 0, 0))
    assert str(info.value) == "color_mask(rgb=(300, 0, 0)): each channel must be an int in 0..255"
    with pytest.raises(ValueError) as info:
        pixel_count(np.zeros((2, 3), dtype=np.float64))
    assert str(info.value) == (
        "pixel_count(mask=<ndarray shape=(2, 3) dtype=float64>): must be a numpy bool array "
        "shaped (H, W), got dtype float64 (use e.g. `mask != 0`)"
    )


def test_error_message_does_not_call_repr_of_unknown_objects() -> None:
    class Loud:
        def __repr__(self) -> str:
            raise AssertionError("repr called")

    with pytest.raises(ValueError, match=r"rgb=\(<Loud object>, 0, 0\)"):
        color_mask(F, (Loud(), 0, 0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"tol=<Loud object>"):
        count_color(F, RED, Loud())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"tol=<int of 16610 bits>\): must be an int in 0..255"):
        count_color(F, RED, 10**5000)


def test_size_guard() -> None:
    # Broadcast views take no memory; the guard must fire before any copy is made.
    too_tall = np.broadcast_to(np.zeros((1, 1, 3), dtype=np.uint8), (4097, 4096, 3))
    with pytest.raises(ValueError, match=r"count_color\(frame=.*4096x4096"):
        count_color(too_tall, BLACK)
    with pytest.raises(ValueError, match=r"changed_fraction\(frame="):
        changed_fraction(too_tall, too_tall)
    too_wide = np.broadcast_to(np.zeros((1, 1), dtype=bool), (1, MAX_PIXELS + 1))
    with pytest.raises(ValueError, match=r"pixel_count\(mask=.*4096x4096"):
        pixel_count(too_wide)
    at_limit = np.broadcast_to(np.ones((1, 1), dtype=bool), (4096, 4096))
    assert pixel_count(at_limit) == MAX_PIXELS


def test_numpy_scalars_and_arrays_are_accepted() -> None:
    f = scene()
    yellow_pixel = f[2, 5]
    assert count_color(f, yellow_pixel) == 12
    assert count_color(f, [np.uint8(255), np.int64(255), 0], tol=np.int32(0)) == 12
    assert count_color(f, np.array([250, 250, 5]), tol=np.uint8(5)) == 12
    mask = color_mask(f, YELLOW)
    assert connected_components(mask, connectivity=np.int64(8))[1] == 1
    assert region_mean(f, np.int64(2), np.int32(5), np.uint16(5), np.int8(9)) == (255.0, 255.0, 0.0)
    assert region_change(f, f, np.int64(-(2**62)), 0, 2**70, 10**30) == 0.0


# ---------------------------------------------------------------------------------------------
# Inputs untouched, results fresh, return types plain
# ---------------------------------------------------------------------------------------------


def call_everything(frame: np.ndarray, first: np.ndarray, mask: np.ndarray) -> list[Any]:
    return [
        color_mask(frame, YELLOW, 3),
        count_color(frame, YELLOW, 3),
        pixel_count(mask),
        bbox(mask),
        centroid(mask),
        connected_components(mask, 8),
        component_sizes(mask),
        largest_component(mask),
        mean_color(frame, mask),
        changed_fraction(frame, first, 1),
        region_change(frame, first, 1, 1, 9, 9, 1),
        region_mean(frame, 1, 1, 9, 9),
    ]


@pytest.mark.parametrize("writable", [False, True])
def test_inputs_are_never_mutated(writable: bool) -> None:
    frame = scene().copy()
    first = np.zeros_like(frame)
    mask = color_mask(frame, YELLOW)
    originals = [a.copy() for a in (frame, first, mask)]
    for a in (frame, first, mask):
        a.setflags(write=writable)
    call_everything(frame, first, mask)
    for a, original in zip((frame, first, mask), originals, strict=True):
        np.testing.assert_array_equal(a, original)
        assert a.flags.writeable == writable


def test_results_are_fresh_and_plain() -> None:
    frame = scene()
    first = readonly(np.zeros_like(frame))
    mask = color_mask(frame, YELLOW)
    results = call_everything(frame, first, mask)
    for arr in (results[0], results[5][0], results[6]):
        assert isinstance(arr, np.ndarray)
        assert arr.flags.writeable
        assert not np.shares_memory(arr, frame)
        assert not np.shares_memory(arr, mask)
    assert type(results[1]) is int
    assert type(results[2]) is int
    assert type(results[7]) is int
    assert type(results[5][1]) is int
    for tup, kind in [(results[3], int), (results[4], float), (results[8], float)]:
        assert type(tup) is tuple
        assert all(type(v) is kind for v in tup)
    assert type(results[11]) is tuple
    assert all(type(v) is float for v in results[11])
    assert type(results[9]) is float
    assert type(results[10]) is float

    # Scribbling on returned arrays does not change later results.
    results[0][:] = ~results[0]
    results[5][0][:] = 99
    results[6][:] = -1
    again = call_everything(frame, first, mask)
    np.testing.assert_array_equal(again[0], mask)
    assert again[5][0].max() == 1
    assert again[6].tolist() == [12]
    # Two calls never return the same array object.
    assert color_mask(frame, YELLOW) is not color_mask(frame, YELLOW)


# ---------------------------------------------------------------------------------------------
# Exports and kernels
# ---------------------------------------------------------------------------------------------


def test_exports() -> None:
    assert vision.__all__ == sorted(vision.__all__)
    # The two trusted set-up calls the worker makes before isolating are not checker helpers.
    names = {n for n in vision.__all__ if n.islower()} - {"warm_up", "memory_only_cache"}
    assert set(VISION_HELPERS) == names
    assert set(VISION_KERNELS) == names
    for name, fn in VISION_HELPERS.items():
        assert fn is getattr(vision, name)
        assert fn.__doc__ and "Example:" in fn.__doc__
    with pytest.raises(TypeError):
        VISION_HELPERS["eval"] = eval  # type: ignore[index]
    with pytest.raises(TypeError):
        VISION_KERNELS["eval"] = eval  # type: ignore[index]
    for kernel in VISION_KERNELS.values():
        assert isinstance(kernel, numba.core.registry.CPUDispatcher)
        assert kernel.targetoptions["nogil"] is True
    # Bounds checks stay on everywhere except count_color's flat loop, whose indices are in range
    # by construction (its speed is the project's headline number).
    for name, kernel in VISION_KERNELS.items():
        assert kernel.targetoptions["boundscheck"] is (name != "count_color"), name


def test_kernels_compose_inside_a_jitted_checker() -> None:
    k_color_mask = VISION_KERNELS["color_mask"]
    k_count_color = VISION_KERNELS["count_color"]
    k_pixel_count = VISION_KERNELS["pixel_count"]
    k_bbox = VISION_KERNELS["bbox"]
    k_centroid = VISION_KERNELS["centroid"]
    k_components = VISION_KERNELS["connected_components"]
    k_sizes = VISION_KERNELS["component_sizes"]
    k_largest = VISION_KERNELS["largest_component"]
    k_mean_color = VISION_KERNELS["mean_color"]
    k_changed = VISION_KERNELS["changed_fraction"]
    k_region_change = VISION_KERNELS["region_change"]
    k_region_mean = VISION_KERNELS["region_mean"]

    @numba.njit
    def checker(frame: Any, first: Any) -> Any:
        yellow = k_color_mask(frame, 255, 255, 0, 0)
        labels, n = k_components(yellow, 8)
        y0, x0, y1, x1 = k_bbox(yellow)
        cy, cx = k_centroid(yellow)
        r, _, b = k_mean_color(frame, yellow)
        return (
            k_count_color(frame, 255, 0, 0, 0) == 1
            and k_pixel_count(yellow) == 12
            and n == 1
            and labels[2, 5] == 1
            and k_sizes(yellow, 4)[0] == 12
            and k_largest(yellow, 4) == 12
            and y0 == 2
            and x0 == 5
            and y1 == 4
            and x1 == 8
            and cy == 3.0
            and cx == 6.5
            and r == 255.0
            and b == 0.0
            and k_changed(frame, first, 0) == 13 / 320
            and k_region_change(frame, first, 0, 0, 8, 10, 0) == 12 / 80
            and k_region_mean(frame, 2, 5, 5, 9)[1] == 255.0
        )

    frame = scene()
    assert checker(frame, readonly(np.zeros_like(frame))) is True


def test_kernel_shape_mismatch_raises() -> None:
    frame = scene()
    with pytest.raises(ValueError, match="mean_color"):
        VISION_KERNELS["mean_color"](frame, np.zeros((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="changed_fraction"):
        VISION_KERNELS["changed_fraction"](frame, frame[:3], 0)
    with pytest.raises(ValueError, match="region_change"):
        VISION_KERNELS["region_change"](frame, frame[:, :3], 0, 0, 2, 2, 0)


def test_surface_lists_exactly_the_vision_helpers() -> None:
    from sandbox.surface import VISION_NAMES

    assert set(VISION_HELPERS) == VISION_NAMES


# ---------------------------------------------------------------------------------------------
# One declaration per helper (sandbox.surface.VISION_SIGNATURES)
# ---------------------------------------------------------------------------------------------


def test_every_helper_is_derived_from_its_declaration() -> None:
    import inspect

    from sandbox import jit_helpers
    from sandbox.surface import VISION_PARAMETERS, VISION_SIGNATURES

    assert set(VISION_SIGNATURES) == set(VISION_HELPERS) == set(jit_helpers.VISION_TWINS)
    for name, params in VISION_PARAMETERS.items():
        signature = inspect.signature(VISION_HELPERS[name])
        assert [(p.name, p.default) for p in signature.parameters.values()] == [
            (kind, inspect.Parameter.empty if default is None else default)
            for kind, default in params
        ], name
        twin = jit_helpers.VISION_TWINS[name]
        assert twin is getattr(jit_helpers, name)
        assert twin.py_func.__code__.co_varnames[: len(params)] == tuple(k for k, _ in params)
        assert twin.targetoptions["boundscheck"] is True


def test_the_twin_source_checks_what_the_wrapper_checks() -> None:
    from sandbox.jit_helpers import _twin_source
    from sandbox.surface import VISION_PARAMETERS

    text = _twin_source("count_color", VISION_PARAMETERS["count_color"])
    assert text.splitlines()[0] == "def count_color(frame, rgb, tol=0):"
    assert "_rgb_ok(rgb)" in text and "tol < 0 or tol > 255" in text
    assert "_kernel(frame, rgb[0], rgb[1], rgb[2], tol)" in text
    sizes = _twin_source("component_sizes", VISION_PARAMETERS["component_sizes"])
    assert "_kernel(mask, _connectivity(connectivity))" in sizes


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("count_color", ((0, 0, 300), 0)),
        ("count_color", ((0, 0, 0), 256)),
        ("color_mask", ((0, 0, -1), 0)),
        ("component_sizes", (5,)),
        ("changed_fraction", (-1,)),
    ],
)
def test_twins_refuse_what_the_wrappers_refuse(name: str, args: tuple[object, ...]) -> None:
    from sandbox import jit_helpers

    frame = np.zeros((4, 4, 3), np.uint8)
    first = frame if name == "changed_fraction" else None
    lead = (
        (frame, first)
        if first is not None
        else (np.zeros((4, 4), bool),)
        if name == "component_sizes"
        else (frame,)
    )
    with pytest.raises(ValueError):
        VISION_HELPERS[name](*lead, *args)
    with pytest.raises(ValueError):
        jit_helpers.VISION_TWINS[name](*lead, *args)


def test_a_wrapper_that_differs_from_its_declaration_is_refused() -> None:
    def count_color(frame, rgb, tol=1):  # type: ignore[no-untyped-def]  # default differs
        return 0

    with pytest.raises(RuntimeError, match=r"do not match sandbox\.surface\.VISION_SIGNATURES"):
        vision._implements(VISION_KERNELS["count_color"])(count_color)

    def undeclared(frame):  # type: ignore[no-untyped-def]
        return 0

    with pytest.raises(RuntimeError, match="undeclared"):
        vision._implements(VISION_KERNELS["bbox"])(undeclared)


def test_a_bad_declaration_is_refused() -> None:
    from sandbox.surface import _parameters

    with pytest.raises(ValueError, match="bad parameter 'colour'"):
        _parameters("x", "frame, colour")
    with pytest.raises(ValueError, match="bad parameter 'mask'"):
        _parameters("x", "frame, tol=0, mask")
