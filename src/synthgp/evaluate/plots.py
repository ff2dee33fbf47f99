"""Small matplotlib charts rendered to inline SVG strings, for reports that must work offline."""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                     "figure.dpi": 100, "svg.hashsalt": "synthgp"})
BLUE, ORANGE, GREY, GREEN = "#005eb8", "#ed8b00", "#768692", "#009639"  # NHS palette


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def pyramid(ages: Sequence[int], male: Sequence[int], female: Sequence[int], title: str) -> str:
    fig, ax = plt.subplots(figsize=(5, 3.6))
    y = range(len(ages))
    ax.barh(y, [-m for m in male], color=BLUE, label="male")
    ax.barh(y, female, color=ORANGE, label="female")
    ax.set_yticks(list(y)[::2], [f"{a}" + ("+" if i == len(ages) - 1 else "") for i, a in enumerate(ages)][::2])
    ax.set_xticks(ax.get_xticks(), [f"{abs(int(v)):,}" for v in ax.get_xticks()])
    ax.set_xlabel("people")
    ax.set_ylabel("age")
    ax.legend(frameon=False, loc="upper right")
    ax.set_title(title)
    return _svg(fig)


def bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str, ylabel: str = "",
         percent: bool = False, horizontal: bool = False) -> str:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    colours = [BLUE, ORANGE, GREY, GREEN]
    k = len(series)
    width = 0.8 / k
    for i, (name, vals) in enumerate(series.items()):
        pos = [j + (i - (k - 1) / 2) * width for j in range(len(labels))]
        v = [0 if x is None else x * (100 if percent else 1) for x in vals]
        (ax.barh if horizontal else ax.bar)(pos, v, width, label=name, color=colours[i % 4])
    if horizontal:
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel(ylabel)
        ax.invert_yaxis()
    else:
        ax.set_xticks(range(len(labels)), labels)
        ax.set_ylabel(ylabel)
    if k > 1:
        ax.legend(frameon=False, fontsize=7, loc="lower right" if horizontal else "lower left")
    ax.set_title(title)
    return _svg(fig)


def bp_by_age(rows: list[dict], ref: dict, title: str) -> str:
    """Median and 10th-90th centile of the last clinic systolic BP by age and sex, with the reference means."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2), sharey=True)
    for ax, sex, colour in zip(axes, ("male", "female"), (BLUE, ORANGE)):
        rs = [r for r in rows if r["sex"] == sex]
        x = [r["age_from"] + 5 for r in rs]
        ax.fill_between(x, [r["p10"] for r in rs], [r["p90"] for r in rs], color=colour, alpha=0.2, label="10th-90th centile")
        ax.plot(x, [r["p50"] for r in rs], color=colour, marker="o", label="median, generated")
        ax.plot(x, [r["mean"] for r in rs], color=colour, ls=":", label="mean, generated")
        ax.plot(ref["ages"], ref[sex], color=GREY, ls="--", label="HSE-shaped usual BP (model input)")
        ax.set_title(sex)
        ax.set_xlabel("age")
    axes[0].set_ylabel("systolic BP, mmHg")
    axes[1].legend(frameon=False, fontsize=7, loc="lower right")
    fig.suptitle(title, y=1.03)
    return _svg(fig)


def lines(x: Sequence, series: dict[str, Sequence[float | None]], title: str, ylabel: str = "",
          percent: bool = False) -> str:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    styles = [(BLUE, "-", "o"), (GREY, "--", "s"), (ORANGE, ":", "^"), (GREEN, "-.", "d")]
    for (name, vals), (c, ls, m) in zip(series.items(), styles):
        ax.plot(list(x), [None if v is None else v * (100 if percent else 1) for v in vals], color=c, ls=ls, marker=m, label=name)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    ax.set_title(title)
    return _svg(fig)


def histogram(values: Sequence[float], title: str, xlabel: str, bins: int | Sequence[float] = 30,
              marks: dict[str, float] | None = None, other: Sequence[float] | None = None,
              labels: tuple[str, str] = ("", "")) -> str:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(values, bins=bins, color=BLUE, alpha=0.75 if other is not None else 1, label=labels[0] or None,
            density=other is not None)
    if other is not None:
        ax.hist(other, bins=bins, color=ORANGE, alpha=0.5, label=labels[1] or None, density=True)
    for name, v in (marks or {}).items():
        ax.axvline(v, color=GREY, ls="--")
        ax.text(v, ax.get_ylim()[1] * 0.95, f" {name}", color=GREY, va="top", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density" if other is not None else "people")
    if other is not None:
        ax.legend(frameon=False)
    ax.set_title(title)
    return _svg(fig)


def heatmap(pairs: dict, title: str) -> str:
    """A lower-triangle matrix of per-pair differences (pairs from fidelity.pairs)."""
    import numpy as np

    cols = pairs["columns"]
    idx = {c: i for i, c in enumerate(cols)}
    m = np.full((len(cols), len(cols)), np.nan)
    for p in pairs["pairs"]:
        i, j = idx[p["a"]], idx[p["b"]]
        m[max(i, j), min(i, j)] = p["diff"]
    lim = max(0.05, float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 0.05)
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
    labels = [c.replace("_", " ") for c in cols]
    ax.set_xticks(range(len(cols)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(cols)), labels, fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    return _svg(fig)


def network(nodes: Sequence[str], edges: Sequence[tuple[str, str]], latent: set[str]) -> str:
    """A directed graph on a circle; latent nodes in orange."""
    import math

    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    n = len(nodes)
    pos = {v: (math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)) for i, v in enumerate(nodes)}
    for a, b in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=ORANGE if a in latent else GREY, lw=1, shrinkA=12, shrinkB=12))
    for v, (x, y) in pos.items():
        ax.scatter([x], [y], s=260, color=ORANGE if v in latent else BLUE, zorder=3)
        ax.text(x * 1.18, y * 1.18, v, ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.35, 1.35)
    ax.axis("off")
    ax.set_title("Learned network (orange: latent variables)")
    return _svg(fig)


def columns(columns: list[dict], ref, other, labels: tuple[str, str]) -> dict[str, str]:
    """One chart per column of a fidelity.columns result: overlaid histograms for numerics (the top
    1% folded into the last bin), side-by-side shares for categories (at most 20 levels)."""
    import pandas as pd

    figs = {}
    for c in columns:
        name = c["column"]
        title = name.replace("_", " ")
        if c["kind"] == "numeric":
            rv = pd.to_numeric(ref[name], errors="coerce").dropna()
            ov = pd.to_numeric(other[name], errors="coerce").dropna()
            both = pd.concat([rv, ov])
            lo, hi = (float(both.min()), float(both.quantile(0.99))) if len(both) else (0.0, 1.0)
            bins = [lo + (hi - lo) * i / 30 for i in range(31)] if hi > lo else 10
            figs[f"col-{name}"] = histogram(rv.clip(upper=hi), title, title, bins=bins, other=ov.clip(upper=hi),
                                            labels=labels)
        else:
            rs, os_ = ref[name].astype(str).where(ref[name].notna()), other[name].astype(str).where(other[name].notna())
            levels = sorted(set(rs.dropna()) | set(os_.dropna()))[:20]
            figs[f"col-{name}"] = bars(levels, {labels[0]: [float((rs == v).mean()) for v in levels],
                                                labels[1]: [float((os_ == v).mean()) for v in levels]}, title, "%",
                                       percent=True)
    return figs


def dcr(privacy: dict, title: str, labels: tuple[str, str]) -> str:
    """Distances to the closest record (fidelity.privacy), synthetic beside holdout, the top 1% folded in."""
    import numpy as np

    d_s, d_h = privacy["dcr_synthetic"], privacy["dcr_holdout"]
    hi = float(np.quantile(d_h + d_s, 0.99)) or 1.0
    return histogram([min(d, hi) for d in d_s], title, "distance (99th centile and beyond in the last bin)",
                     bins=[hi * i / 40 for i in range(41)], other=[min(d, hi) for d in d_h], labels=labels)
