"""Stage: frozen-encoder features of the counting set, and of every KxK patch of every benchmark
image, on its test split and on the development part of its training split (the read-out levers
are adopted on), where each image's four half-size copies side by side are read too (the label-free
check of count scale, syrac.inference.evaluation.zoom_ratios)."""


import numpy as np

from syrac import config, storage
from syrac.data.benchmarks import DEVELOPMENT_MANIFEST, MANIFEST, read_manifest
from syrac.method.features import extract
from syrac.method.model import compute_device, load_rank_model, to_device
from syrac.synthetic.counting import LABELS, read_labels

if __name__ == "__main__":
    args = config.stage_paths("model_path", "counting_dir", "bench_root", "train_root", "counting_out", "bench_out",
                              "development_out")
    cfg = config.load_for_stage()
    model, checkpoint = load_rank_model(args.model_path)
    model = to_device(model, compute_device())
    size = tuple(checkpoint["input_size"])
    names, _ = read_labels(args.counting_dir / LABELS)
    counting = extract(model, [args.counting_dir / name for name in names], (1,), size, "counting set")
    storage.save_npz(args.counting_out, images=np.array(names), features=counting["k1"][:, 0])
    for name in cfg.benchmarks:
        for split, image_dir, manifest, out_root in (("test", args.bench_root / name, MANIFEST, args.bench_out),
                                                     ("development", args.train_root / name, DEVELOPMENT_MANIFEST,
                                                      args.development_out)):
            names, paths = read_manifest(image_dir, manifest)
            grids = extract(model, paths, cfg.evaluate.extracted, size, f"benchmark {name} ({split})",
                            mosaic=split == "development")
            storage.save_npz(out_root / f"{name}.npz", images=np.array(names), **grids)
