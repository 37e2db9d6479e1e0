"""Floor-plan geometry: walls crossed by a link, and client placement."""

from __future__ import annotations

import numpy as np

from rrm_gym.config.schema import Scenario


def wall_segments(scenario: Scenario) -> np.ndarray:
    """All walls as ``[L, 4]`` segments ``(x1, y1, x2, y2)``, grid walls included."""
    segs = [tuple(w) for w in scenario.walls]
    grid = scenario.wall_grid
    w, h = scenario.area.width_m, scenario.area.height_m
    if grid is not None:
        if grid.spacing_x_m:
            segs += [(x, 0.0, x, h) for x in np.arange(grid.spacing_x_m, w - 1e-9, grid.spacing_x_m)]
        if grid.spacing_y_m:
            segs += [(0.0, y, w, y) for y in np.arange(grid.spacing_y_m, h - 1e-9, grid.spacing_y_m)]
    return np.asarray(segs, dtype=float).reshape(-1, 4)


def walls_crossed(a_xy: np.ndarray, b_xy: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Number of walls the straight link ``a -> b`` crosses; ``a``, ``b`` broadcast to ``[..., 2]``."""
    a_xy, b_xy = np.broadcast_arrays(a_xy, b_xy)
    if len(walls) == 0:
        return np.zeros(a_xy.shape[:-1])
    a = a_xy[..., None, :]  # [..., 1, 2]
    b = b_xy[..., None, :]
    c, d = walls[:, :2], walls[:, 2:]  # [L, 2]

    def cross(o: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return (p[..., 0] - o[..., 0]) * (q[..., 1] - o[..., 1]) - (p[..., 1] - o[..., 1]) * (q[..., 0] - o[..., 0])

    d1, d2 = cross(c, d, a), cross(c, d, b)
    d3, d4 = cross(a, b, c), cross(a, b, d)
    hit = (d1 * d2 < 0) & (d3 * d4 < 0)
    return hit.sum(axis=-1).astype(float)


def place_clients(scenario: Scenario, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random client positions ``[*shape, 2]`` inside the area, per the placement model."""
    w, h = scenario.area.width_m, scenario.area.height_m
    pl = scenario.clients.placement
    uniform = rng.random((*shape, 2)) * np.array([w, h])
    if pl.kind == "uniform":
        return uniform
    centers = np.array([hs.center for hs in pl.hotspots])
    radii = np.array([hs.radius_m for hs in pl.hotspots])
    weights = np.array([hs.weight for hs in pl.hotspots])
    pick = rng.choice(len(centers), size=shape, p=weights / weights.sum())
    r = radii[pick] * np.sqrt(rng.random(shape))
    phi = rng.random(shape) * 2 * np.pi
    xy = centers[pick] + np.stack([r * np.cos(phi), r * np.sin(phi)], axis=-1)
    return np.clip(xy, 0.0, [w, h])
