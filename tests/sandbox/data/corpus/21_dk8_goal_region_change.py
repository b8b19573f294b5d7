# corpus: style=qwen-vl; env=MiniGrid-DoorKey-8x8-v0; label=goal_reached; idioms=vision-helpers,color_mask,bbox,region_change,first-frame
# ruff: noqa: F821


def check(frame, first):
    # where is the goal at the start
    goal = color_mask(first, (0, 255, 0), 30)
    y0, x0, y1, x1 = bbox(goal)
    if y0 == -1:
        return False
    # the goal square changes when the agent walks on it
    change = region_change(frame, first, y0, x0, y1 + 1, x1 + 1, 50)
    return bool(change > 0.2)
