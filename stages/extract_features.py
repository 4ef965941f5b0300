"""Stage: frozen-encoder features of the counting set and of every KxK patch of every benchmark image."""


import numpy as np

from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.method.features import extract
from syrac.method.model import compute_device, load_rank_model, to_device

if __name__ == "__main__":
    args = config.stage_paths("model_path", "counting_dir", "bench_root", "counting_out", "bench_out")
    cfg = config.load_for_stage()
    model, checkpoint = load_rank_model(args.model_path)
    model = to_device(model, compute_device())
    size = tuple(checkpoint["input_size"])
    labels = storage.read_csv(args.counting_dir / "labels.csv")
    counting = extract(model, [args.counting_dir / r["image"] for r in labels], (1,), size, "counting set")
    storage.save_npz(args.counting_out, images=np.array([r["image"] for r in labels]), features=counting["k1"][:, 0])
    for name in cfg.benchmarks:
        names, paths = read_manifest(args.bench_root / name)
        grids = extract(model, paths, cfg.evaluate.extracted, size, f"benchmark {name}")
        storage.save_npz(args.bench_out / f"{name}.npz", images=np.array(names), **grids)
