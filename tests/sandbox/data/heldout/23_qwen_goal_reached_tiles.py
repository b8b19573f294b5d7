import numpy as np

def check(frame):
    tile_size = 8
    if frame.shape[0] % 32 == 0 and frame.shape[0] >= 32 * 5:
        tile_size = 32
    h = frame.shape[0] // tile_size
    w = frame.shape[1] // tile_size
    goal_tiles = []
    agent_tiles = []
    for i in range(h):
        for j in range(w):
            tile = frame[i * tile_size:(i + 1) * tile_size, j * tile_size:(j + 1) * tile_size]
            mean = tile.reshape(-1, 3).mean(axis=0)
            # goal tile is mostly green
            if mean[1] > 100 and mean[0] < 120 and mean[2] < 50:
                goal_tiles.append((i, j))
            red = np.sum((tile[:, :, 0] > 200) & (tile[:, :, 1] < 50) & (tile[:, :, 2] < 50))
            if red > 0:
                agent_tiles.append((i, j))
    # agent is on the goal tile
    for idx, pos in enumerate(agent_tiles):
        if pos in goal_tiles:
            return True
    return False
