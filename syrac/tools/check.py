"""Check a run before starting it: ``python -m syrac.tools.check [params.yaml]``.

Validates every parameter, every declared dataset folder (layout, image/annotation pairing,
annotation format; images only for ranking sources) and the presence of the pretrained weights
the parameters ask for (ImageNet, Stable Diffusion when offline or given as a folder, the peer
detectors' package), and prints
every problem found, not only the first. Exit code 0 when the run can start, 1 otherwise.
"""

from __future__ import annotations

import sys

from syrac import config
from syrac.data.datasets import dataset_problems
from syrac.errors import MissingWeightsError
from syrac.method import lite0, readouts
from syrac.method.model import imagenet_weights
from syrac.studies import peers
from syrac.synthetic.diffusion import resolve_model


def problems(params_path: str = "params.yaml") -> list[str]:
    try:
        cfg = config.load(params_path)
    except config.ConfigError as error:
        return error.problems
    found = dataset_problems(cfg) + readouts.problems(cfg.probe.form)
    needed = {lite0.BACKBONE: "ablation"}  # Table 3 reads an ImageNet encoder in every run
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
