"""The real ShanghaiTech photographs: every file loads, and the real profile runs end to end.

The data is never committed. The tests look for it in $SYRAC_SHANGHAITECH (set by .ci/run to the
shared copy), then in datasets/ShanghaiTech, and skip with a message saying where it goes.
"""

import json
from pathlib import Path

import pytest
import yaml
from conftest import TINY
from repo import dvc, make_repo, shanghaitech_root

from syrac import config
from syrac.data import datasets
from syrac.storage import readable_images
from syrac.tools import profile

# Images and annotated people of each official split (the dataset's own figures).
SPLITS = {("part_A", "train"): (300, 162_413), ("part_A", "test"): (182, 78_862),
          ("part_B", "train"): (400, 49_151), ("part_B", "test"): (316, 39_121)}


ROOT = shanghaitech_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason=(
    "ShanghaiTech not found: unpack or symlink it as datasets/ShanghaiTech/part_A|part_B "
    "(or set SYRAC_SHANGHAITECH to that folder); see datasets/README.md"))


@pytest.mark.parametrize("part, split", sorted(SPLITS))
def test_every_real_image_and_annotation_loads_with_the_official_counts(part, split):
    loaded = datasets.samples("shanghaitech", ROOT / part, split)
    images, people = SPLITS[(part, split)]
    assert len(loaded) == images and sum(len(points) for _, points in loaded) == people
    readable, skipped = readable_images([image for image, _ in loaded], "fail", f"{part} {split}")
    assert len(readable) == images and skipped == 0
    assert all(image.suffix == ".jpg" for image in readable)  # part_A's stray Thumbs.db is not an image


def _mini_copy(root: Path, per_split: dict[str, int]) -> None:
    """datasets/ShanghaiTech with the first few images of each part and split, linked in the official layout."""
    for part in ("part_A", "part_B"):
        for split, n in per_split.items():
            for i in range(1, n + 1):
                for folder, name in (("images", f"IMG_{i}.jpg"), ("ground-truth", f"GT_IMG_{i}.mat")):
                    link = root / "datasets/ShanghaiTech" / part / f"{split}_data" / folder / name
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(ROOT / part / f"{split}_data" / folder / name)


def test_the_real_profile_runs_end_to_end_on_a_few_real_photos(tmp_path):
    def real_profile(root, params):
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        profile.switch("shanghaitech", root / "params.yaml")
        params.clear()
        params.update(yaml.safe_load((root / "params.yaml").read_text()))
        for name, n in (("sim_sparse", 8), ("sim_dense", 8)):  # keep the simulated benchmarks tiny too
            params["benchmarks"][name].update(n_images=n, train_images=n)
        _mini_copy(root, {"test": 6, "train": 4})

    root = make_repo(tmp_path, TINY, real_profile)
    assert set(config.load(root / "params.yaml").dataset_benchmarks) == {"shanghaitech_a", "shanghaitech_b"}
    dvc("repro", cwd=root)
    metrics = {name: json.loads((root / "metrics" / f"{name}.json").read_text())
               for name in ("eval", "patch_sweep", "ablation", "umap", "patches")}
    for name in ("shanghaitech_a", "shanghaitech_b"):
        assert metrics["eval"][name]["n_images"] == 6
        assert metrics["patches"][name]["rule"] == "auto" and metrics["eval"][name]["patches"] in (1, 2, 3, 4)
        assert set(metrics["patch_sweep"][name]) == {"1", "2", "3", "4"}
        assert all(name in row for row in metrics["ablation"].values())
        assert name in metrics["umap"]
        for plot in (f"predictions/{name}.csv", f"patch_sweep_predictions/{name}.csv", f"umap/{name}.png",
                     f"qualitative/{name}.png"):
            assert (root / "plots" / plot).stat().st_size > 0, plot
    truth = json.loads((root / "data/ground_truth/benchmarks/shanghaitech_b/IMG_1.json").read_text())["points"]
    real_points = datasets.read_points("shanghaitech", ROOT / "part_B/test_data/ground-truth/GT_IMG_1.mat")
    assert len(truth) == len(real_points)  # the evaluation counts the real annotations
