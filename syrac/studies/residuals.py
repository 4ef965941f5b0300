"""Which scene properties the counting errors follow (not in the paper):

    python -m syrac.studies.residuals      # after `dvc repro`; reads plots/predictions/<benchmark>.csv

For every simulated benchmark, the Spearman correlation between an image's error, the log-ratio of
predicted to true count, and properties of its scene, re-derived from the image's seed: how tall
people look, blur, paving contrast, exposure. Features that respond to the number of people only
would leave all of them near 0; docs/embedded-results.md uses them to show what else the encoder
picked up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from syrac import config, storage
from syrac.config import Config, SimBenchmark
from syrac.data.benchmarks import benchmark_scene

PROPERTIES = {
    "person height": lambda scene: float(np.mean([p.height for p in scene.people])),
    "blur": lambda scene: scene.blur,
    "paving": lambda scene: scene.tiles,
    "exposure": lambda scene: float(np.mean(scene.gain)),
}


def correlations(cfg: Config, name: str, predictions: Path) -> dict[str, float]:
    """Spearman of log((predicted + 1) / (true + 1)) with each of ``PROPERTIES`` over the benchmark."""
    bench = cfg.benchmarks[name]
    errors, scenes = [], []
    for row in storage.read_csv(predictions):
        index = int(Path(row["image"]).stem.removeprefix("IMG_")) - 1
        scene = benchmark_scene(cfg, name, bench, index)
        if scene.count != int(row["true_count"]):
            raise ValueError(f"{predictions}: {row['image']} holds {row['true_count']} people, but params.yaml's "
                             f"scene for it holds {scene.count}: run `dvc repro` with these parameters first")
        errors.append(np.log((float(row["predicted_count"]) + 1) / (scene.count + 1)))
        scenes.append(scene)
    return {prop: float(spearmanr([measure(s) for s in scenes], errors).statistic)
            for prop, measure in PROPERTIES.items()}


def main() -> int:
    cfg = config.load()
    simulated = [name for name, bench in cfg.benchmarks.items() if isinstance(bench, SimBenchmark)]
    if not simulated:
        print("no simulated benchmark in params.yaml: scene properties exist for the simulator's only", file=sys.stderr)
        return 1
    print("| benchmark | " + " | ".join(PROPERTIES) + " |\n|---|" + "---|" * len(PROPERTIES))
    for name in simulated:
        rho = correlations(cfg, name, Path("plots/predictions") / f"{name}.csv")
        print(f"| {name} | " + " | ".join(f"{rho[prop]:+.2f}" for prop in PROPERTIES) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
