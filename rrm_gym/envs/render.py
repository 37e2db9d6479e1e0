"""Render a network: a floor-plan picture (``rgb_array``) or a text table (``ansi``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rrm_gym.radio.regulatory import SLOT_BAND_GHZ
from rrm_gym.sim import Sensing, WirelessSimulation

_SIZE_PX = (860, 480)


def render_rgb(sim: WirelessSimulation, s: Sensing | None, network: int = 0) -> np.ndarray:
    """Floor plan ``uint8 [H, W, 3]``: walls, APs coloured by channel with a coverage circle
    (where they are heard at -67 dBm), clients coloured by throughput, interferers and radars."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from rrm_gym.radio.propagation import frequency_loss_db, geometric_loss_db

    sc = sim.scenario
    fig = Figure(figsize=(_SIZE_PX[0] / 100, _SIZE_PX[1] / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.06, 0.1, 0.56, 0.82))
    w, h = sc.area.width_m, sc.area.height_m
    ax.set_xlim(-0.05 * w, 1.05 * w)
    ax.set_ylim(-0.05 * h, 1.05 * h)
    ax.set_aspect("equal")
    ax.set_title(f"{sc.name}  t = {sim.time_s / 60:.0f} min", fontsize=9)
    ax.add_patch(matplotlib.patches.Rectangle((0, 0), w, h, fill=False, lw=1.5, color="black"))
    for x1, y1, x2, y2 in sim._walls:
        ax.plot([x1, x2], [y1, y2], color="0.35", lw=1.2)
    cmap = matplotlib.colormaps["tab20"]
    channels = sim.channel[network]
    palette = {c: cmap(i % 20) for i, c in enumerate(sorted(set(channels.tolist())))}
    # coverage: distance at which the AP is heard at -67 dBm (the usual voice-grade design target)
    d = np.linspace(1, 200, 400)
    for i, (x, y) in enumerate(sim.ap_xy):
        budget = sim.power_dbm[network, i] + 67.0 - frequency_loss_db(5.2 if sim.ap_band_ghz[i] == 5 else 2.44)
        loss = geometric_loss_db(d, 0, sc.propagation.model)
        radius = float(d[np.searchsorted(loss, budget)] if budget < loss[-1] else d[-1])
        color = palette[int(channels[i])]
        ax.add_patch(matplotlib.patches.Circle((x, y), radius, color=color, alpha=0.12, lw=0))
        marker = "^" if sim.tx_enabled[network, i] else "x"
        ax.scatter([x], [y], marker=marker, s=70, color=color, edgecolors="black", zorder=4)
    _label_aps(ax, sim.ap_xy, [f"{i}:{int(channels[i])}" for i in range(len(sim.ap_xy))])
    if s is not None and sim.num_clients:
        thr = s.client_throughput_mbps[network]
        xy = sim.client_xy[network]
        sc_ = ax.scatter(
            xy[:, 0], xy[:, 1], c=np.log10(np.maximum(thr, 0.01)), cmap="RdYlGn", vmin=-1, vmax=2, s=6, zorder=3
        )
        cb = fig.colorbar(sc_, cax=fig.add_axes((0.64, 0.1, 0.012, 0.82)))
        cb.set_ticks([-1, 0, 1, 2], labels=["0.1", "1", "10", "100"], fontsize=7)
        cb.set_label("client throughput (Mb/s)", fontsize=7)
    if sim.num_interferers:
        ax.scatter(sim._if_xy[:, 0], sim._if_xy[:, 1], marker="*", s=120, color="magenta", edgecolors="black", zorder=5)
    for r in sc.radars:
        if r.position is not None:
            ax.add_patch(matplotlib.patches.Circle(r.position, r.range_m, fill=False, ls="--", color="red"))
            ax.scatter([r.position[0]], [r.position[1]], marker="P", s=90, color="red", zorder=5)
    ax.set_xlabel("x (m)", fontsize=8)
    ax.set_ylabel("y (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    line = matplotlib.lines.Line2D
    handles = [line([], [], marker="o", ls="", color=c, label=f"channel {ch}") for ch, c in palette.items()]
    handles += [
        line([], [], marker="^", ls="", color="0.6", markeredgecolor="black", label="AP (label: index:channel)"),
        line([], [], marker="x", ls="", color="0.3", label="AP silent (CAC, radar)"),
        matplotlib.patches.Patch(color="0.6", alpha=0.3, label="where it is heard at -67 dBm"),
        line([], [], marker="o", ls="", color="tab:green", markersize=3, label="client (colour: its Mb/s)"),
        line([], [], color="0.35", lw=1.2, label="wall"),
    ]
    if sim.num_interferers:
        handles.append(
            line([], [], marker="*", ls="", color="magenta", markeredgecolor="black", label="non-Wi-Fi interferer")
        )
    if any(r.position is not None for r in sc.radars):
        handles.append(line([], [], marker="P", ls="--", color="red", label="radar (dashed: its range)"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.71, 0.93), fontsize=7, frameon=False)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3], dtype=np.uint8)


def _label_aps(ax: Any, xy: np.ndarray, labels: list[str]) -> None:
    """Put each AP's label beside its marker where it overlaps no label placed before (tried in
    four directions, then pushed further out), so that close APs stay readable."""
    points_per_px = 72.0 / ax.figure.dpi
    placed: list[tuple[float, float, float, float]] = []  # label boxes, in points
    for (x, y), text in zip(xy, labels, strict=True):
        px, py = ax.transData.transform((x, y)) * points_per_px
        w, h = 4.0 * len(text) + 2, 8.0  # 6.5 pt text
        for dx, dy in [(4, 4), (4, -12), (-w - 4, 4), (-w - 4, -12), (4, 16), (4, -24), (-w - 4, 16), (-w - 4, -24)]:
            box = (px + dx, py + dy, px + dx + w, py + dy + h)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        placed.append(box)
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=6.5)


def render_ansi(sim: WirelessSimulation, s: Sensing | None, info: dict[str, Any], network: int = 0) -> str:
    """A text table of the network: per-AP configuration and measurements, and the step's KPIs."""
    lines = [f"{sim.scenario.name}  t={sim.time_s:.0f} s  hour {sim.hour_of_day():.2f}"]
    lines.append(
        f"{'AP':<10}{'GHz':>5}{'ch':>5}{'MHz':>5}{'dBm':>6}{'on':>4}{'cli':>5}{'CCA':>7}{'retry':>7}{'Mb/s':>8}"
    )
    for i, ap in enumerate(sim.scenario.aps):
        slot = int(sim.slot[network, i])
        if s is not None:
            cca = f"{s.cca_busy_frac[network, :, i].mean():.0%}"
            retry = f"{s.retry_rate[network, :, i].mean():.0%}"
            thr = f"{s.throughput_mbps[network, :, i].mean():.1f}"
            cli = str(int(s.clients_per_ap[network, i]))
        else:
            cca = retry = thr = cli = "-"
        lines.append(
            f"{(ap.name or f'ap{i}')[:9]:<10}{SLOT_BAND_GHZ[slot]:>5g}{int(sim.channel[network, i]):>5}"
            f"{int(sim.width_mhz[network, i]):>5}{sim.power_dbm[network, i]:>6.0f}"
            f"{'y' if sim.tx_enabled[network, i] else 'n':>4}{cli:>5}{cca:>7}{retry:>7}{thr:>8}"
        )
    kpi = info.get("kpi", {})
    if kpi:
        lines.append(
            f"experience {kpi['experience_utility']:.3f}, SLE {kpi['sle']:.0%}, p95 latency "
            f"{kpi['latency_p95_ms']:.0f} ms; throughput mean {kpi['throughput_mean_mbps']:.2f} Mb/s, "
            f"p5 {kpi['throughput_p5_mbps']:.2f} Mb/s; cost {info.get('cost', 0.0):.1f}"
        )
    return "\n".join(lines) + "\n"
