"""Floor-plan geometry: walls crossed by a link, and client placement."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np

from rrm_gym.config.schema import Scenario
from rrm_gym.radio.propagation import geometric_loss_db

K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A mapping that keeps at most ``maxsize`` entries, dropping the least recently used: the
    module's caches of per-floor-plan arrays stay bounded however many floor plans a process sees."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, default: V | None = None) -> V | None:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        return default

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        """The entry of ``key``, built (and kept) if missing."""
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = build()
        self[key] = value
        return value

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


def cache_sizes() -> dict[str, tuple[int, int]]:
    """Entries and bound of each of this module's caches."""
    caches: dict[str, Any] = {
        "wall_rasters": _RASTERS,
        "loss_rasters": _LOSS_RASTERS,
        "hotspots": _HOTSPOTS,
        "grids": _GRIDS,
    }
    return {name: (len(c), c.maxsize) for name, c in caches.items()}


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


def _cross(ux: np.ndarray, uy: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    return ux * vy - uy * vx


def walls_crossed(a_xy: np.ndarray, b_xy: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Number of walls the straight link ``a -> b`` crosses; ``a``, ``b`` broadcast to ``[..., 2]``.

    A link crosses wall ``c -> d`` when ``a`` and ``b`` lie on opposite sides of the wall's line
    and ``c`` and ``d`` on opposite sides of the link's line. Each side test is a sum of 2-D cross
    products, so terms that involve only one end are formed before broadcasting over links.
    """
    a_xy, b_xy = np.asarray(a_xy, dtype=float), np.asarray(b_xy, dtype=float)
    shape = np.broadcast_shapes(a_xy.shape, b_xy.shape)[:-1]
    if len(walls) == 0:
        return np.zeros(shape)
    cx, cy, dx, dy = (walls[:, i] for i in range(4))  # [L]
    wx, wy = dx - cx, dy - cy
    ax, ay = a_xy[..., 0, None], a_xy[..., 1, None]  # [..., 1]
    bx, by = b_xy[..., 0, None], b_xy[..., 1, None]
    # (p - c) x w for p = a, b
    side_a = _cross(ax - cx, ay - cy, wx, wy)
    side_b = _cross(bx - cx, by - cy, wx, wy)
    # (b - a) x (q - a) = b x q - a x q + a x b for q = c, d
    ab = _cross(ax, ay, bx, by)
    side_c = _cross(bx, by, cx, cy) - _cross(ax, ay, cx, cy) + ab
    side_d = _cross(bx, by, dx, dy) - _cross(ax, ay, dx, dy) + ab
    hit = ((side_a > 0) != (side_b > 0)) & ((side_c > 0) != (side_d > 0))
    return np.broadcast_to(hit.sum(axis=-1), shape).astype(float)


# Clients stand at the centres of a grid of this pitch, so that walls crossed from any client
# position can be looked up in a precomputed raster (see WallRaster).
CLIENT_GRID_M = 0.5


def _grid_shape(width_m: float, height_m: float) -> tuple[int, int]:
    """Columns and rows of the client grid over an area."""
    return int(np.ceil(width_m / CLIENT_GRID_M)), int(np.ceil(height_m / CLIENT_GRID_M))


def _cell_index(xy: np.ndarray, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid column and row of each client position ``[P, 2]``."""
    ix = np.minimum((xy[:, 0] / CLIENT_GRID_M).astype(np.intp), nx - 1)
    iy = np.minimum((xy[:, 1] / CLIENT_GRID_M).astype(np.intp), ny - 1)
    return ix, iy


class WallRaster:
    """Walls crossed between fixed sources and every client grid cell, ``[S, ny, nx]``, in the
    smallest unsigned integer type that holds the largest count (one byte on every packaged floor).

    Exact for client positions (cell centres); built once per simulation, and only where it
    stays small (``max_cells`` source-cells), else ``None`` is returned by :meth:`build`.
    """

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = counts

    @classmethod
    def build(
        cls, src_xy: np.ndarray, walls: np.ndarray, width_m: float, height_m: float, max_cells: int = 4_000_000
    ) -> WallRaster | None:
        nx, ny = _grid_shape(width_m, height_m)
        if len(walls) == 0 or len(src_xy) == 0 or nx * ny * len(src_xy) > max_cells:
            return None
        xs = (np.arange(nx) + 0.5) * CLIENT_GRID_M
        ys = (np.arange(ny) + 0.5) * CLIENT_GRID_M
        cells = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # [ny * nx, 2]
        counts = np.stack([walls_crossed(cells, s, walls) for s in src_xy])
        counts = counts.astype(np.min_scalar_type(int(counts.max())))  # exact: a count never wraps
        return cls(counts.reshape(len(src_xy), ny, nx))

    @classmethod
    def cached(cls, src_xy: np.ndarray, walls: np.ndarray, width_m: float, height_m: float) -> WallRaster | None:
        """:meth:`build`, shared by every simulation of the same floor plan in this process."""
        key = (src_xy.tobytes(), walls.tobytes(), width_m, height_m)
        return _RASTERS.get_or_build(key, lambda: cls.build(src_xy, walls, width_m, height_m))

    def lookup(self, xy: np.ndarray) -> np.ndarray:
        """Walls between each client position ``[P, 2]`` and each source: ``[P, S]``."""
        ix, iy = _cell_index(xy, self.counts.shape[2], self.counts.shape[1])
        return self.counts[:, iy, ix].T.astype(float)


# Each raster holds at most 4 M source-cells (a byte each on a usual floor); least recently used
# floor plans are dropped.
_RASTERS: LRUCache[tuple, WallRaster | None] = LRUCache(32)


class LossRaster:
    """Distance and wall loss (:func:`geometric_loss_db`, no shadowing) between fixed sources and
    every client grid cell, ``[ny, nx, S]`` float64: a relocated client's links are then a lookup.

    Computed with the same operations as for one client at a cell centre, so the values are the
    ones a direct computation gives; built only where it stays small (``max_cells`` source-cells).
    """

    def __init__(self, loss: np.ndarray) -> None:
        self.loss = np.ascontiguousarray(loss)
        self._rows = self.loss.reshape(-1, loss.shape[2])  # [ny * nx, S], a view: lookups take whole rows

    @classmethod
    def build(
        cls,
        src_xy: np.ndarray,
        walls: np.ndarray,
        width_m: float,
        height_m: float,
        model: str,
        dh_m: np.ndarray | None = None,
        max_cells: int = 2_000_000,
    ) -> LossRaster | None:
        nx, ny = _grid_shape(width_m, height_m)
        if len(src_xy) == 0 or nx * ny * len(src_xy) > max_cells:
            return None
        if len(walls):
            counts = WallRaster.cached(src_xy, walls, width_m, height_m)
            if counts is None:
                return None
            crossed = counts.counts.transpose(1, 2, 0).astype(float)  # [ny, nx, S]
        else:
            crossed = np.zeros((ny, nx, len(src_xy)))
        # cell centres exactly as place_clients puts clients there
        xs = np.minimum((np.arange(nx) + 0.5) * CLIENT_GRID_M, width_m)
        ys = np.minimum((np.arange(ny) + 0.5) * CLIENT_GRID_M, height_m)
        dx = xs[None, :, None] - src_xy[None, None, :, 0]
        dy = ys[:, None, None] - src_xy[None, None, :, 1]
        dh = np.zeros(len(src_xy)) if dh_m is None else np.asarray(dh_m, dtype=float)
        d = np.sqrt(dx * dx + dy * dy + dh[None, None, :] ** 2)  # 3-D: mounting heights differ
        return cls(geometric_loss_db(d, crossed, model))

    @classmethod
    def cached(
        cls, src_xy: np.ndarray, walls: np.ndarray, width_m: float, height_m: float, model: str, dh_m: np.ndarray
    ) -> LossRaster | None:
        """:meth:`build`, shared by every simulation of the same floor plan and model in this process."""
        key = ("loss", src_xy.tobytes(), walls.tobytes(), width_m, height_m, model, np.asarray(dh_m).tobytes())
        return _LOSS_RASTERS.get_or_build(key, lambda: cls.build(src_xy, walls, width_m, height_m, model, dh_m))

    def cells(self, xy: np.ndarray) -> np.ndarray:
        """Flat grid cell of each client position ``[P, 2]`` (rasters of one floor plan share it)."""
        ny, nx = self.loss.shape[:2]
        ix, iy = _cell_index(xy, nx, ny)
        return iy * nx + ix

    def lookup(self, xy: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """Loss from each client position ``[P, 2]`` (or its :meth:`cells`) to each source: ``[P, S]``."""
        if cells is None:
            cells = self.cells(xy)
        return self._rows.take(cells, axis=0)


# Each raster holds at most 2 M source-cells (float64, 16 MB); two per floor plan (APs, interferers).
_LOSS_RASTERS: LRUCache[tuple, LossRaster | None] = LRUCache(32)


def place_clients(scenario: Scenario, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random client positions ``[*shape, 2]`` on the client grid inside the area."""
    w, h = scenario.area.width_m, scenario.area.height_m
    pl = scenario.clients.placement
    if pl.kind == "uniform":
        return _snap(rng.random((*shape, 2)) * _grid(w, h)[1], w, h)
    centers, radii, cdf = _hotspots(pl.hotspots)
    x, y = np.empty(shape), np.empty(shape)
    todo = np.ones(shape, dtype=bool)
    # uniform over each hotspot's disc within the area: points that fall outside are drawn again
    # (a hotspot's centre lies inside, so at least a quarter of its disc does)
    while todo.any():
        n = int(todo.sum())
        pick = cdf.searchsorted(rng.random(n), side="right")
        r = radii.take(pick) * np.sqrt(rng.random(n))
        phi = rng.random(n) * 2 * np.pi
        x[todo] = centers[:, 0].take(pick) + r * np.cos(phi)
        y[todo] = centers[:, 1].take(pick) + r * np.sin(phi)
        todo &= (x < 0) | (x > w) | (y < 0) | (y > h)
    return _snap_columns(x, y, w, h)


def _hotspots(hotspots: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, radii and the cumulative pick probabilities of a placement's hotspots (kept per
    placement: clients are placed every epoch)."""
    key = id(hotspots)
    hit = _HOTSPOTS.get(key)
    if hit is None or hit[0] is not hotspots:
        weights = np.array([hs.weight for hs in hotspots])
        cdf = (weights / weights.sum()).cumsum()
        cdf /= cdf[-1]
        arrays = (np.array([hs.center for hs in hotspots]), np.array([hs.radius_m for hs in hotspots]), cdf)
        hit = _HOTSPOTS[key] = (hotspots, arrays)
    return hit[1]


_HOTSPOTS: LRUCache[int, tuple[list, tuple[np.ndarray, np.ndarray, np.ndarray]]] = LRUCache(64)


def _grid(width_m: float, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The last grid cell index along x and y, and the area's size, as arrays (kept per area)."""
    key = (width_m, height_m)
    hit = _GRIDS.get(key)
    if hit is None:
        hit = _GRIDS[key] = (np.array(_grid_shape(width_m, height_m), dtype=float) - 1, np.array([width_m, height_m]))
    return hit


_GRIDS: LRUCache[tuple[float, float], tuple[np.ndarray, np.ndarray]] = LRUCache(256)


def _snap(xy: np.ndarray, width_m: float, height_m: float) -> np.ndarray:
    """Positions ``[..., 2]`` moved to the centre of their client grid cell (inside the area)."""
    return _snap_columns(xy[..., 0], xy[..., 1], width_m, height_m)


def _snap_columns(x: np.ndarray, y: np.ndarray, width_m: float, height_m: float) -> np.ndarray:
    """:func:`_snap` of the positions with coordinates ``x`` and ``y``, one axis at a time: the same
    operations on each value, ``[..., 2]``."""
    g = CLIENT_GRID_M
    top, size = _grid(width_m, height_m)
    out = np.empty((*x.shape, 2))
    for j, v in enumerate((x, y)):
        cell = np.floor(v / g)
        np.maximum(cell, 0.0, out=cell)  # np.clip, without its overhead
        np.minimum(cell, top[j], out=cell)
        cell += 0.5
        cell *= g
        np.minimum(cell, size[j], out=out[..., j])
    return out
