"""The diffusers backend through the real generation stages, on a tiny random Stable Diffusion pipeline.

Everything runs offline on CPU: the tests build the pipeline themselves (tests/tiny_diffusion.py).
"""

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tiny_diffusion
import torch
import yaml
from layouts import BUILDERS
from PIL import Image
from repo import dvc, env, interrupt_stage, make_repo, run

from syrac import config, storage
from syrac.synthetic import generate
from syrac.synthetic.diffusion import DiffusionGenerator

SIZE = [32, 48]  # height, width of edits and counting images
PARAMS = {
    "generator": {"backend": "diffusers", "steps": 3, "edit_size": SIZE, "image_size": SIZE, "batch_size": 2},
    "pairs": {"edits_per_source": 2},
    "counting": {"prompted_counts": [0, 5, 50], "images_per_count": 4},
}
SOURCE_COUNTS = [4, 9, 2]
TRAINING_SOURCES = len(SOURCE_COUNTS) - 1  # IMG_1, first of the sorted listing, is the development part


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return tiny_diffusion.build(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="module")
def sd_repo(tmp_path_factory, pipeline):
    def add_sources(root, params):
        """ShanghaiTech-layout training images as sources, with annotations nobody may read."""
        BUILDERS["shanghaitech"](root / "datasets/part_B", "train", SOURCE_COUNTS)
        for annotation in (root / "datasets/part_B/train_data/ground-truth").iterdir():
            annotation.write_text("corrupt: a ranking stage that opened this would fail")
        params["sources"] = {"format": "shanghaitech", "root": "datasets/part_B", "split": "train"}
        params["generator"]["model"] = str(pipeline)

    root = make_repo(tmp_path_factory.mktemp("sd_repo"), PARAMS, add_sources)
    dvc("repro", "synthesize_pairs", "synthesize_counting", cwd=root)
    return root


def _size(path: Path) -> list[int]:
    width, height = Image.open(path).size
    return [height, width]


def test_both_generation_stages_run_through_dvc_with_the_diffusers_backend(sd_repo):
    pairs = storage.read_csv(sd_repo / "data/pairs/pairs.csv")
    assert len(pairs) == TRAINING_SOURCES * 2
    for row in pairs:
        assert _size(sd_repo / "data/pairs" / row["source"]) == SIZE == _size(sd_repo / "data/pairs" / row["edit"])
    manifest = {r["output"]: r for r in storage.read_csv(sd_repo / "data/pairs/manifest.csv")}
    assert manifest["sources/src_00001.jpg"]["start"] == "datasets/part_B/train_data/images/IMG_3.jpg"
    edit = manifest["edits/src_00001_e1.jpg"]
    assert edit["start"] == "sources/src_00001.jpg" and edit["prompt"].startswith("An empty outside space")
    assert edit["negative_prompt"].startswith("people, crowds") and edit["backend"] == "diffusers"
    assert int(edit["seed"]) == generate.image_seed(0, generate.EDITS, 1, 1)
    truth = storage.read_csv(sd_repo / "data/ground_truth/pairs/pairs.csv")
    assert all(r["source_count"] == r["edit_count"] == "" for r in truth)  # nobody read the annotations

    labels = storage.read_csv(sd_repo / "data/counting/labels.csv")
    assert [int(r["prompted_count"]) for r in labels] == [0] * 4 + [5] * 4 + [50] * 4
    prompts = {r["output"]: r["prompt"] for r in storage.read_csv(sd_repo / "data/counting/manifest.csv")}
    assert prompts["images/n0005_002.jpg"] == "A group of 5 people. High angle"
    assert prompts["images/n0000_000.jpg"] == "an empty urban environment"
    assert all(_size(sd_repo / "data/counting" / r["image"]) == SIZE for r in labels)
    assert not list((sd_repo / "checkpoints").rglob("*"))  # work folders are moved into place, none left behind


def test_any_image_is_regenerated_alone_from_its_seed(sd_repo, pipeline, tmp_path):
    cfg = config.load(sd_repo / "params.yaml")
    generator = DiffusionGenerator(cfg.generator, torch.device("cpu"))
    source = np.asarray(storage.read_image(sd_repo / "data/pairs/sources/src_00001.jpg"))
    seed = generate.image_seed(cfg.seed, generate.EDITS, 1, 0)
    storage.write_image(tmp_path / "edit.jpg", generator.remove_people([source], [seed], cfg.pairs.strength)[0])
    assert (tmp_path / "edit.jpg").read_bytes() == (sd_repo / "data/pairs/edits/src_00001_e0.jpg").read_bytes()
    image = generator.render(
        ["A group of 50 people. High angle"], [generate.image_seed(cfg.seed, generate.COUNTING, 50, 3)]
    )
    storage.write_image(tmp_path / "n50.jpg", image[0])
    assert (tmp_path / "n50.jpg").read_bytes() == (sd_repo / "data/counting/images/n0050_003.jpg").read_bytes()


def _images(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.jpg"))}


def test_a_killed_generation_keeps_every_finished_image_and_makes_only_the_missing(sd_repo):
    params = (sd_repo / "params.yaml").read_text().replace("images_per_count: 4", "images_per_count: 12")
    (sd_repo / "params.yaml").write_text(params)
    def two_batches_written():  # then kill the stage in the middle of the run
        return len(list((sd_repo / "checkpoints/counting").glob("*/images/*.jpg"))) >= 4

    interrupt_stage(sd_repo, ["repro", "synthesize_counting"], "stages.synthesize_counting", two_batches_written)
    kept = {p.name: p.stat().st_ino for p in (sd_repo / "checkpoints/counting").glob("*/images/*.jpg")}
    assert 4 <= len(kept) < 36

    out = dvc("repro", "synthesize_counting", cwd=sd_repo)
    assert f"resuming, {len(kept)} of 36 images already made are kept" in out
    resumed = _images(sd_repo / "data/counting")
    assert len(resumed) == 36 and not list((sd_repo / "data/counting").rglob("*.part"))  # no half-written file
    for name, inode in kept.items():  # the very same files: moved into place, not made again
        assert (sd_repo / "data/counting/images" / name).stat().st_ino == inode
    dvc("repro", "--force", "synthesize_counting", cwd=sd_repo)
    assert _images(sd_repo / "data/counting") == resumed  # identical to an uninterrupted run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_accelerate_processes_make_exactly_the_images_of_one(sd_repo):
    """Bit-identical needs the same arithmetic: one CPU thread per process in both runs (accelerate
    would otherwise give each of its processes half the threads, and sums would be ordered differently)."""
    args = ["-m", "stages.synthesize_pairs"]  # as dvc.yaml runs it
    outputs = {}
    for name, launcher in (("one", [sys.executable]),
                           ("two", [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
                                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                                    "--main_process_port", str(_free_port())])):
        run([*launcher, *args, "--out-dir", f"out_{name}/pairs", "--truth-dir", f"out_{name}/truth",
             "--metrics-path", f"out_{name}/metrics.json", "--work-root", f"work_{name}"], sd_repo, OMP_NUM_THREADS="1")
        outputs[name] = _images(sd_repo / f"out_{name}/pairs")
        assert (sd_repo / f"out_{name}/pairs/manifest.csv").is_file()
    assert len(outputs["one"]) == TRAINING_SOURCES * 3 and outputs["one"] == outputs["two"]
    assert (sd_repo / "out_one/pairs/manifest.csv").read_bytes() == (
        sd_repo / "out_two/pairs/manifest.csv"
    ).read_bytes()


GENERATION_PATHS = ["--out-dir", "out", "--truth-dir", "truth", "--metrics-path", "m.json", "--work-root", "work",
                    "--people-dir", "people"]


def test_offline_without_weights_stops_at_once_saying_what_to_download(sd_repo, tmp_path):
    params = yaml.safe_load((sd_repo / "params.yaml").read_text())
    params["generator"]["model"] = "stabilityai/stable-diffusion-2-1"
    params["sources"]["root"] = str(sd_repo / "datasets/part_B")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(sd_repo / "stages/synthesize_counting.py"), *GENERATION_PATHS],
                            cwd=tmp_path, capture_output=True, text=True,
                            env=env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf")))
    assert result.returncode == 1 and time.monotonic() - started < 60
    message = result.stderr.strip().splitlines()[-1]
    assert "'stabilityai/stable-diffusion-2-1'" in message and "hf download stabilityai/stable-diffusion-2-1" in message
    assert "generator.model:" in message and "HF_HUB_OFFLINE" in message
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.json").exists()
    assert not list((tmp_path / "work").rglob("*.*"))  # nothing half-made
