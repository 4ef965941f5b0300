"""Check a run before starting it: ``python -m syrac.check [params.yaml]``.

Validates every parameter, every declared dataset folder (layout, image/annotation pairing,
annotation format; images only for ranking sources) and the presence of the pretrained weights
the parameters ask for (ImageNet, Stable Diffusion when offline or given as a folder, the peer
detectors' package), and prints
every problem found, not only the first. Exit code 0 when the run can start, 1 otherwise.
"""

from __future__ import annotations

import sys

from syrac import config
from syrac.data import datasets
from syrac.errors import DatasetError, MissingWeightsError
from syrac.method.model import imagenet_weights
from syrac.studies import peers
from syrac.studies.ablation import IMAGENET_BACKBONE
from syrac.synthetic.diffusion import resolve_model

ORACLE_SPLIT = "train"  # labelled images of each benchmark for the ablation's supervised oracle


def dataset_problems(cfg: config.Config) -> list[str]:
    """Every fault of every declared dataset folder, prefixed by the parameter that declares it."""
    found = []
    image_only = [("sources", cfg.sources)] if isinstance(cfg.sources, config.DatasetSources) else []
    image_only += [(f"pretrain.unlabelled_photos[{i}]", p) for i, p in enumerate(cfg.pretrain.unlabelled_photos)]
    for key, photos in image_only:
        try:  # images only: the annotations of training photos are never opened
            datasets.image_paths(photos.format, photos.root, photos.split)
        except DatasetError as error:
            found += [f"{key}: {problem}" for problem in error.problems]
    for name, bench in cfg.dataset_benchmarks.items():
        for split in dict.fromkeys((bench.split, ORACLE_SPLIT)):  # the ablation's oracle reads the train split
            try:
                datasets.samples(bench.format, bench.root, split)
            except DatasetError as error:
                found += [f"benchmarks.{name}: {problem}" for problem in error.problems]
    return found


def problems(params_path: str = "params.yaml") -> list[str]:
    try:
        cfg = config.load(params_path)
    except config.ConfigError as error:
        return error.problems
    found = dataset_problems(cfg)
    needed = {IMAGENET_BACKBONE: "ablation"}  # Table 3 reads an ImageNet encoder in every run
    if cfg.model.pretrained == "imagenet":
        needed[cfg.model.backbone] = "model.pretrained"
    for backbone, key in needed.items():
        try:
            imagenet_weights(backbone)
        except MissingWeightsError as error:
            found.append(f"{key}: {error}")
    found += peers.problems(cfg.peers.detectors)
    if cfg.generator.backend == "diffusers":
        try:
            resolve_model(cfg.generator.model)
        except MissingWeightsError as error:
            found.append(f"generator.model: {error}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    params_path = args[0] if args else "params.yaml"
    found = problems(params_path)
    for problem in found:
        print(f"problem: {problem}")
    print(f"{params_path}: {len(found)} problem(s) found" if found else f"{params_path}: ready to run")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
