"""The paper's figures: UMAP of features by crowd size (Fig. 6), patch counts (Fig. 5), the ablation bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from PIL import Image  # noqa: E402

from syrac.storage import atomic_path  # noqa: E402


def save_figure(fig, path: Path) -> None:
    """A figure as PNG, written through a temporary name (a killed run leaves no half-drawn plot), then freed."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def umap_embedding(features: np.ndarray, n_neighbors: int, min_dist: float, seed: int) -> np.ndarray:
    import umap  # slow to import (numba); only this stage needs it

    # The spectral initialisation needs more points than dimensions + neighbours; a small benchmark
    # (a few test images) still gets a (less stable) embedding from a random start.
    small = len(features) <= max(n_neighbors, 8)
    reducer = umap.UMAP(n_neighbors=max(2, min(n_neighbors, len(features) - 1)), min_dist=min_dist,
                        random_state=seed, n_jobs=1, init="random" if small else "spectral")
    return reducer.fit_transform(features)


def scatter_by_count(path: Path, xy: np.ndarray, counts: np.ndarray, title: str) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=110)
    points = ax.scatter(xy[:, 0], xy[:, 1], c=np.maximum(counts, 1), cmap="viridis", norm=LogNorm(), s=22,
                        edgecolors="none")
    fig.colorbar(points, ax=ax, label="true count (log scale)")
    ax.set(title=title, xlabel="UMAP 1", ylabel="UMAP 2", xticks=[], yticks=[])
    fig.tight_layout()
    save_figure(fig, path)


def grouped_bars(path: Path, results: dict[str, dict[str, dict[str, float]]], metric: str, title: str) -> None:
    """One group of bars per benchmark, one bar per strategy (the last, hatched, is the oracle)."""
    strategies, benchmarks = list(results), list(next(iter(results.values())))
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(3.2 * len(benchmarks) + 1.5, 4), dpi=110, squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for ax, bench in zip(axes[0], benchmarks):
        values = [results[s][bench][metric] for s in strategies]
        bars = ax.bar(range(len(strategies)), values, color=colours[: len(strategies)])
        bars[-1].set_hatch("//")
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set(title=bench, xticks=[], ylabel=metric.upper())
    fig.legend(bars, [s.replace("_", " ") for s in strategies], loc="center right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / fig.get_figwidth(), 1))
    save_figure(fig, path)


def image_grid(path: Path, panels: list[tuple[Image.Image, str]], title: str) -> None:
    """Images side by side, each with a caption (the paper's Figure 5 layout)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), dpi=110, squeeze=False)
    for ax, (image, caption) in zip(axes[0], panels):
        ax.imshow(image)
        ax.set(title=caption, xticks=[], yticks=[])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
