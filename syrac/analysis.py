"""Figure 6 of the paper: does the pre-trained feature space order images by crowd size?"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from syrac.storage import atomic_path  # noqa: E402


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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
