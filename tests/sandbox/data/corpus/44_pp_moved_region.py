# corpus: style=qwen-vl; env=PandaPush-v3; label=cube_moved; idioms=vision-helpers,bbox,region_change,first-frame,per-channel-and
# ruff: noqa: F821


def check(frame, first):
    # green cube in the first frame
    mask = (first[:, :, 1] > 100) & (first[:, :, 0] < 80) & (first[:, :, 2] < 80)
    y0, x0, y1, x1 = bbox(mask)
    if y0 < 0:
        return False
    # if the area where the cube was has changed a lot, the cube moved
    return bool(region_change(frame, first, y0, x0, y1 + 1, x1 + 1, 40) > 0.3)
