"""The tiny end-to-end repository, built once per test session and shared by the test files that
read a trained pipeline (test_pipeline, test_readme): the whole DVC DAG on a tiny profile, in a
fresh git + DVC copy of the repo. Tests that run DVC pipelines are marked ``e2e``; `make test-fast`
runs the others (`pytest -m "not e2e"`)."""

import pytest
from layouts import BUILDERS
from repo import dvc, make_repo

TINY = {
    "sources": {"n_images": 10, "dense_fraction": 0.3, "count_range": [2, 200]},
    "pairs": {"edits_per_source": 2},
    "counting": {"images_per_count": 3, "prompted_counts": [0, 5, 50]},
    "benchmarks": {"sim_sparse": {"n_images": 12, "train_images": 8},
                   "sim_dense": {"n_images": 12, "count_range": [33, 600], "train_images": 8}},
    "model": {"input_size": [32, 48]},
    "pretrain": {"epochs": 2, "batch_size": 8},
    "probe": {"folds": 3},
    "umap": {"n_neighbors": 5},
    "data": {"bad_images": "skip"},
    "ablation": {"intra_crops": 2, "end_to_end_epochs": 2},
    "evaluate": {"patches": {"sim_sparse": 2, "sim_dense": 3}},
}
# One fixture per official dataset layout, evaluated by the same DAG as the simulated benchmarks.
DATASETS = {
    "shanghaitech_a": ("shanghaitech", "datasets/ShanghaiTech/part_A", [40, 12, 75, 3]),
    "shanghaitech_b": ("shanghaitech", "datasets/ShanghaiTech/part_B", [9, 30, 21]),
    "ucf_qnrf": ("ucf_qnrf", "datasets/UCF-QNRF_ECCV18", [120, 0, 64]),
    "jhu_crowd": ("jhu_crowd", "datasets/jhu_crowd_v2.0", [5, 0, 17, 2]),
}


PARAMS_READ = "syrac_e2e_params_read.jsonl"  # beside the tiny repo: each stage's params reads (test_dvc_yaml)
PIPELINE_FIXTURES = {"tiny_repo", "sd_repo", "readme_repo", "scratch_repo"}  # each runs a DVC pipeline


def pytest_collection_modifyitems(items):
    """``e2e``: every test that runs a DVC pipeline (through one of those fixtures, or a whole file of them)."""
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())) or item.module.__name__ == "test_shanghaitech":
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory):
    def add_datasets(root, params):
        for name, (fmt, folder, counts) in DATASETS.items():
            BUILDERS[fmt](root / folder, "test", counts)
            BUILDERS[fmt](root / folder, "train", [c + 3 for c in counts])  # the oracle's labelled split
            params["benchmarks"][name] = {"format": fmt, "root": folder, "split": "test"}
            params["evaluate"]["patches"][name] = "auto" if name == "ucf_qnrf" else 2
        # the labelled oracle's training photos double as unlabelled rank-training photos (images only)
        params["pretrain"]["unlabelled_photos"] = [{"format": "shanghaitech", "root": DATASETS["shanghaitech_a"][1],
                                                    "split": "train"}]
        params["pretrain"].update(self_supervised_epochs=1, adapt_bn=True)  # issue 17's levers 2 and 3, run through
        (root / DATASETS["jhu_crowd"][1] / "test/images/0005.jpg").write_bytes(b"")  # skipped, and counted
        (root / DATASETS["jhu_crowd"][1] / "test/gt/0005.txt").write_text("1 1 2 2 1 0\n")

    root = make_repo(tmp_path_factory.mktemp("syrac_e2e"), TINY, add_datasets)
    dvc("repro", cwd=root, SYRAC_PARAMS_READ=str(root.parent / PARAMS_READ))  # every stage notes the params it reads
    return root
