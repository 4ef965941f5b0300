"""Stage: frozen-encoder features of the counting set and of every KxK patch of every benchmark image."""

import sys
from pathlib import Path

import numpy as np

from syrac import config, storage
from syrac.benchmarks import read_manifest
from syrac.features import extract
from syrac.model import compute_device, load_rank_model, to_device

if __name__ == "__main__":
    model_path, counting_dir, bench_root, counting_out, bench_out = map(Path, sys.argv[1:6])
    cfg = config.load_for_stage()
    model, checkpoint = load_rank_model(model_path)
    model = to_device(model, compute_device())
    size = tuple(checkpoint["input_size"])
    labels = storage.read_csv(counting_dir / "labels.csv")
    counting = extract(model, [counting_dir / r["image"] for r in labels], (1,), size, "counting set")
    storage.save_npz(counting_out, images=np.array([r["image"] for r in labels]), features=counting["k1"][:, 0])
    for name in cfg.benchmarks:
        names, paths = read_manifest(bench_root / name)
        grids = extract(model, paths, cfg.evaluate.extracted, size, f"benchmark {name}")
        storage.save_npz(bench_out / f"{name}.npz", images=np.array(names), **grids)
