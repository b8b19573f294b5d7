"""A hand-written library of realistic reward checkers, used for tests and benchmarks.

Provides:
    LIBRARY: read-only mapping of checker name -> checker source (``def check(frame)`` or
        ``def check(frame, first)``), in the style a vision-language model writes them.
    NOT_JITTABLE: the names expected to stay on the interpreter path (they use list displays
        and ``append``, ``sorted``, ``zip``, dicts or strings, which are outside the JIT subset).

These checkers were written by hand, not generated: they are the known-good fixtures the tests
(differential JIT-versus-interpreter fuzzing, the fuzzer, the pool) and the benchmarks run. They
cover colour blobs, boxes given as fractions of the frame, change since the episode's first frame,
centroid distances, component counts, channel-mean thresholds, bounding-box sizes, per-pixel loops
over a downsampled grid (the JIT-friendly style), numpy reductions, integer arithmetic on single
pixels (exact, never wrapping like a uint8 array would), and MiniGrid scenes (yellow key, red agent,
green goal, grey walls). Every entry passes :func:`sandbox.audit`, returns a bool on every
(H, W, 3) uint8 frame with H, W >= 16, and is not constant over diverse frames.

Example:
    >>> from sandbox import compile_checker
    >>> import numpy as np
    >>> frame = np.zeros((32, 32, 3), np.uint8)
    >>> frame[4:8, 4:8] = (255, 255, 0)
    >>> compile_checker(LIBRARY["yellow_key_present"])(frame)
    True
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["LIBRARY", "NOT_JITTABLE"]


def _checker(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


_SOURCES: dict[str, str] = {
    # -- colour blobs ----------------------------------------------------------------------------
    "yellow_key_present": _checker(
        """
        KEY = (255, 255, 0)


        def check(frame):
            # MiniGrid's key is drawn in yellow; a few pixels of it are enough.
            return count_color(frame, KEY, 10) >= 6
        """
    ),
    "red_blob_large": _checker(
        """
        def check(frame):
            red = color_mask(frame, (255, 0, 0), 30)
            return largest_component(red) >= 12
        """
    ),
    "blue_blob_8_connected": _checker(
        """
        BLUE = (0, 0, 255)


        def check(frame):
            mask = color_mask(frame, BLUE, 20)
            return largest_component(mask, 8) >= 9
        """
    ),
    "purple_fraction": _checker(
        """
        PURPLE = (112, 39, 195)


        def check(frame):
            return color_mask(frame, PURPLE, 15).mean() > 0.01
        """
    ),
    # -- regions (boxes as fractions of the frame) ----------------------------------------------
    "right_half_bright": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            r, g, b = region_mean(frame, 0, w // 2, h, w)
            return (r + g + b) / 3.0 > 90.0
        """
    ),
    "top_band_green": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            r, g, b = region_mean(frame, 0, 0, max(1, h // 4), w)
            return g > r + 40.0 and g > b + 40.0
        """
    ),
    "center_box_changed": _checker(
        """
        def check(frame, first):
            h = frame.shape[0]
            w = frame.shape[1]
            y0 = int(h * 0.25)
            x0 = int(w * 0.25)
            y1 = int(h * 0.75)
            x1 = int(w * 0.75)
            return region_change(frame, first, y0, x0, y1, x1, 20) > 0.1
        """
    ),
    # -- change since the episode's first frame -------------------------------------------------
    "scene_changed": _checker(
        """
        def check(frame, first):
            return changed_fraction(frame, first, 10) > 0.05
        """
    ),
    "bottom_right_changed": _checker(
        """
        def check(frame, first):
            h = frame.shape[0]
            w = frame.shape[1]
            return region_change(frame, first, h // 2, w // 2, h, w) > 0.2
        """
    ),
    "max_pixel_difference": _checker(
        """
        import numpy as np


        def check(frame, first):
            diff = np.abs(frame.astype(np.int16) - first.astype(np.int16))
            return diff.max() > 100
        """
    ),
    # -- centroid distances ----------------------------------------------------------------------
    "agent_near_goal": _checker(
        """
        import math

        AGENT = (255, 0, 0)
        GOAL = (0, 255, 0)


        def check(frame):
            agent = color_mask(frame, AGENT, 10)
            goal = color_mask(frame, GOAL, 10)
            if pixel_count(agent) < 3 or pixel_count(goal) < 3:
                return False
            ay, ax = centroid(agent)
            gy, gx = centroid(goal)
            k = max(frame.shape[0], frame.shape[1]) / 6.0
            return math.hypot(ay - gy, ax - gx) <= k
        """
    ),
    "key_far_from_agent": _checker(
        """
        import math


        def check(frame):
            key = color_mask(frame, (255, 255, 0), 10)
            agent = color_mask(frame, (255, 0, 0), 10)
            if pixel_count(key) == 0 or pixel_count(agent) == 0:
                return False
            ky, kx = centroid(key)
            ay, ax = centroid(agent)
            return math.hypot(ky - ay, kx - ax) > 20.0
        """
    ),
    # -- counts -------------------------------------------------------------------------------
    "two_blue_objects": _checker(
        """
        def check(frame):
            labels, n = connected_components(color_mask(frame, (0, 0, 255), 10))
            return n >= 2
        """
    ),
    "several_grey_blocks": _checker(
        """
        GREY = (100, 100, 100)


        def check(frame):
            sizes = component_sizes(color_mask(frame, GREY, 5))
            big = 0
            for i in range(len(sizes)):
                if sizes[i] >= 4:
                    big += 1
            return big >= 2
        """
    ),
    # -- thresholds on channel means -------------------------------------------------------------
    "red_channel_mean_high": _checker(
        """
        def check(frame):
            return frame[..., 0].mean() > 100
        """
    ),
    "blue_dominant_mean": _checker(
        """
        def check(frame):
            r = frame[:, :, 0].mean()
            g = frame[:, :, 1].mean()
            b = frame[:, :, 2].mean()
            return b > r + 20 and b > g
        """
    ),
    # -- bounding-box sizes ----------------------------------------------------------------------
    "green_bbox_wide": _checker(
        """
        def check(frame):
            y0, x0, y1, x1 = bbox(color_mask(frame, (0, 255, 0), 20))
            if y0 < 0:
                return False
            return x1 - x0 + 1 >= 6 and y1 - y0 + 1 >= 4
        """
    ),
    "red_bbox_squarish": _checker(
        """
        def check(frame):
            y0, x0, y1, x1 = bbox(color_mask(frame, (255, 0, 0), 40))
            if y0 < 0:
                return False
            height = y1 - y0 + 1
            width = x1 - x0 + 1
            ratio = height / width
            return height * width >= 16 and 0.5 <= ratio <= 2.0
        """
    ),
    # -- per-pixel loops over a downsampled grid (the JIT-friendly style) -----------------------
    "bright_grid_fraction": _checker(
        """
        STEP = 4


        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            bright = 0
            cells = 0
            for y in range(0, h, STEP):
                for x in range(0, w, STEP):
                    cells += 1
                    # Exact pixel sums: 255 + 255 + 255 is 765, not a wrapped uint8.
                    if frame[y, x, 0] + frame[y, x, 1] + frame[y, x, 2] > 600:
                        bright += 1
            return bright * 5 > cells
        """
    ),
    "yellowish_grid_cells": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            hits = 0
            for y in range(0, h, 2):
                for x in range(0, w, 2):
                    if frame[y, x, 0] + frame[y, x, 1] > 300 and frame[y, x, 2] < 100:
                        hits += 1
            return hits >= 2
        """
    ),
    "dark_grid_majority": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            dark = 0
            total = 0
            for y in range(0, h, 3):
                for x in range(0, w, 3):
                    total += 1
                    if max(frame[y, x, 0], frame[y, x, 1], frame[y, x, 2]) < 40:
                        dark += 1
            return 2 * dark > total
        """
    ),
    "saturated_red_pixel_scan": _checker(
        """
        def is_red(frame, y, x):
            return frame[y, x, 0] > 200 and frame[y, x, 1] < 60 and frame[y, x, 2] < 60


        def check(frame):
            for y in range(1, frame.shape[0], 2):
                for x in range(1, frame.shape[1], 2):
                    if is_red(frame, y, x):
                        return True
            return False
        """
    ),
    "red_minus_green_cells": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            n = 0
            for y in range(0, h, 4):
                for x in range(0, w, 4):
                    # int() first: the difference of two pixels may be negative.
                    if int(frame[y, x, 0]) - int(frame[y, x, 1]) > 120:
                        n += 1
            return n * 10 >= (h // 4) * (w // 4)
        """
    ),
    "grey_cells_loop": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            grey = 0
            cells = 0
            for y in range(0, h, 2):
                for x in range(0, w, 2):
                    cells += 1
                    r = frame[y, x, 0]
                    g = frame[y, x, 1]
                    b = frame[y, x, 2]
                    # grey-ish: the channels within 12 of each other, and not too dark
                    if abs(r - g) < 12 and abs(g - b) < 12 and r > 60:
                        grey += 1
            return grey * 4 >= cells
        """
    ),
    "first_red_row_in_top_half": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            y = 0
            while y < h:
                if frame[y, w // 2, 0] > 200 and frame[y, w // 2, 1] < 80:
                    break
                y += 1
            return y < h // 2
        """
    ),
    # -- numpy reductions ----------------------------------------------------------------------
    "green_count_nonzero": _checker(
        """
        import numpy as np


        def check(frame):
            green = frame[..., 1] > 200
            return np.count_nonzero(green) >= frame.shape[0] * frame.shape[1] // 50
        """
    ),
    "white_mask_mean": _checker(
        """
        def check(frame):
            white = (frame[..., 0] > 220) & (frame[..., 1] > 220) & (frame[..., 2] > 220)
            return white.mean() > 0.05
        """
    ),
    "red_blue_channel_spread": _checker(
        """
        import numpy as np


        def check(frame):
            r = frame[..., 0].astype(np.int32)
            b = frame[..., 2].astype(np.int32)
            return np.abs(r - b).max() > 150
        """
    ),
    "helper_fraction_red_or_blue": _checker(
        """
        import numpy as np


        def fraction(frame, rgb, tol):
            return count_color(frame, rgb, tol) / (frame.shape[0] * frame.shape[1])


        def check(frame):
            return np.maximum(fraction(frame, (255, 0, 0), 20), fraction(frame, (0, 0, 255), 20)) > 0.1
        """
    ),
    # -- MiniGrid ------------------------------------------------------------------------------
    "minigrid_grey_walls": _checker(
        """
        WALL = (100, 100, 100)


        def check(frame):
            walls = count_color(frame, WALL, 0)
            return walls * 10 >= frame.shape[0] * frame.shape[1]
        """
    ),
    "minigrid_key_picked_up": _checker(
        """
        def check(frame):
            key = count_color(frame, (255, 255, 0), 10)
            agent = count_color(frame, (255, 0, 0), 10)
            return key == 0 and agent > 0
        """
    ),
    "minigrid_agent_on_goal_tile": _checker(
        """
        def check(frame):
            # The goal tile is hidden once the agent stands on it: no green left, agent visible.
            return count_color(frame, (0, 255, 0), 0) < 4 and count_color(frame, (255, 0, 0), 0) > 0
        """
    ),
    # -- deliberately outside the JIT subset ----------------------------------------------------
    # -- whole-array idioms with axis and tuple operands (jitted through their twins) ----------
    "yellow_all_axis": _checker(
        """
        import numpy as np

        KEY = (255, 255, 0)


        def check(frame):
            # the idiom models write most: a per-pixel colour match, reduced over the channels
            mask = np.all(frame == KEY, axis=-1)
            return int(mask.sum()) >= 6
        """
    ),
    "saturated_max_min_axis": _checker(
        """
        import numpy as np


        def check(frame):
            spread = frame.max(axis=2).astype(np.int32) - frame.min(axis=2)
            return int(np.count_nonzero(spread > 60)) * 10 >= spread.size
        """
    ),
    "bright_grey_mean_axis": _checker(
        """
        import numpy as np


        def check(frame):
            grey = np.mean(frame, axis=2)
            return float((grey > 150).mean()) > 0.25
        """
    ),
    "red_column_sum_axis": _checker(
        """
        import numpy as np


        def check(frame):
            columns = np.sum(frame[:, :, 0], axis=0)  # uint64 totals, as numpy gives
            rows = frame[:, :, 2].any(axis=1)
            return int(columns.argmax()) < frame.shape[1] // 2 and int(rows.sum()) > 2
        """
    ),
    "door_offset_tuple": _checker(
        """
        import numpy as np

        DOOR = [114, 114, 0]


        def check(frame):
            diff = np.abs(frame.astype(np.int32) - DOOR)
            return bool(np.any(np.all(diff < 40, axis=-1)))
        """
    ),
    "uint8_minus_tuple_no_wrap": _checker(
        """
        import numpy as np

        SHIFT = (100, 100, 100)


        def check(frame):
            # numpy makes the tuple an int64 array: frame - SHIFT does not wrap around
            below = (frame - SHIFT) < 0
            return int(below.sum()) * 2 > below.size and bool((SHIFT < frame).any())
        """
    ),
    "tuple_eq_and_sub_one_array": _checker(
        """
        import numpy as np

        KEY = (255, 255, 0)
        GREY = (100, 100, 100)


        def check(frame):
            # two operators with tuple constants on the same array: each twin compiles apart
            yellow = np.all(frame == KEY, axis=-1)
            near_grey = np.all(np.abs(frame.astype(np.int32) - GREY) < 30, axis=-1)
            far = (frame.astype(np.int32) + GREY) > 300
            return int(yellow.sum()) + int(near_grey.sum()) > int(far.sum()) // 4
        """
    ),
    "max_min_mean_one_array": _checker(
        """
        import numpy as np


        def check(frame):
            # three axis reductions of the same array type in one kernel
            hi = frame.max(axis=2)
            lo = frame.min(axis=2)
            grey = frame.mean(axis=2)
            return int(np.count_nonzero((hi - lo.astype(np.int32)) > 40)) > int(
                np.count_nonzero(grey > 128)
            )
        """
    ),
    "channel_ranking_sorted": _checker(
        """
        def check(frame):
            means = [float(frame[..., c].mean()) for c in range(3)]
            ranked = sorted(zip(means, range(3)))
            return ranked[-1][1] == 0 and means[0] > 60
        """
    ),
    "dominant_palette_colour_dict": _checker(
        """
        def check(frame):
            palette = {
                "red": (255, 0, 0),
                "green": (0, 255, 0),
                "blue": (0, 0, 255),
                "yellow": (255, 255, 0),
            }
            counts = {}
            for name, rgb in palette.items():
                counts[name] = count_color(frame, rgb, 20)
            best = "none"
            most = 0
            for name in counts:
                if counts[name] > most:
                    best, most = name, counts[name]
            return best in ("green", "yellow")
        """
    ),
    "middle_row_colour_set": _checker(
        """
        def check(frame):
            seen = set()
            y = frame.shape[0] // 2
            for x in range(0, frame.shape[1], 2):
                seen.add((int(frame[y, x, 0]), int(frame[y, x, 1])))
            return len(seen) > 3
        """
    ),
    "row_profile_list": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            rows = []
            for y in range(0, h, 2):
                rows.append(float(frame[y, :, 2].mean()))
            jumps = 0
            for i in range(1, len(rows)):
                if abs(rows[i] - rows[i - 1]) > 40:
                    jumps += 1
            return jumps >= 2
        """
    ),
    "grey_cells_comprehension": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            w = frame.shape[1]
            cells = [
                (y, x)
                for y in range(0, h, 4)
                for x in range(0, w, 4)
                if frame[y, x, 0] == frame[y, x, 1] == frame[y, x, 2] and frame[y, x, 0] > 50
            ]
            return len(cells) * 4 >= (h // 4) * (w // 4)
        """
    ),
    # -- the model idioms the kernel generator lowers (folds, sequence loops, hoisting) ---------
    "bright_rows_generator_sum": _checker(
        """
        def check(frame):
            h = frame.shape[0]
            bright = sum(1 for y in range(0, h, 2) if frame[y, :, 0].max() > 200)
            dark = any(frame[y, y % frame.shape[1], 2] < 20 for y in reversed(range(h)))
            return bright * 4 > h and dark
        """
    ),
    "palette_loop_enumerate": _checker(
        """
        PALETTE = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0))


        def check(frame):
            best = -1
            most = 0
            for i, rgb in enumerate(PALETTE):
                n = count_color(frame, rgb, 40)
                if n > most:
                    most = n
                    best = i
            return best == 0 or best == 3
        """
    ),
    "nested_helper_closure": _checker(
        """
        import numpy as np


        def check(frame):
            img = frame.astype(np.int32)
            spread = img.max(axis=2) - img.min(axis=2)
            tile = 4

            def vivid(row, col):
                block = spread[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]
                return int(np.count_nonzero(block > 80)) * 2 > block.size

            rows = frame.shape[0] // tile
            cols = frame.shape[1] // tile
            return all(vivid(r, c) or r % 2 == 1 for r in range(rows) for c in range(cols) if c < 3)
        """
    ),
}

#: Checker name -> source. Hand-written, audited, bool-valued on every frame; see the module doc.
LIBRARY: Mapping[str, str] = MappingProxyType(_SOURCES)

#: Entries outside the JIT subset on purpose (sorted, zip, sets, a local dict's methods and loops
#: over it). ``row_profile_list`` (a local list appended to, then indexed) came into the subset with
#: local lists.
NOT_JITTABLE: frozenset[str] = frozenset(
    {
        "channel_ranking_sorted",
        "dominant_palette_colour_dict",
        "middle_row_colour_set",
    }
)
