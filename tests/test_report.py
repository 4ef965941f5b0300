"""The README's results block is generated from metrics/, never typed."""

import dataclasses
import json

import pytest

from syrac import report


@pytest.fixture
def metrics(tmp_path):
    files = {
        "eval.json": {"b": {"mae": 12.34, "mse": 20.0, "spearman": 0.9, "n_images": 3, "patches": 2,
                            "mean_label_baseline_mae": 50.0, "mean_label_baseline_mse": 55.0,
                            "train_mean_baseline_mae": 40.0, "train_mean_baseline_mse": 45.0}},
        "patch_sweep.json": {"b": {"1": {"mae": 30.0, "mse": 40.0, "spearman": 0.5},
                                   "2": {"mae": 12.34, "mse": 20.0, "spearman": 0.9}}},
        "patches.json": {"b": {"patches": 2, "auto_choice": 1}},
        "pretrain.json": {"holdout_ranking_accuracy": 0.875, "epochs_run": 4, "best_epoch": 3},
        "umap.json": {"b": {"spearman_proxy_vs_true": 0.8}},
        "ablation.json": {"no_pretraining": {"b": {"mae": 70.0, "mse": 90.0}},
                          "synthetic_rank": {"b": {"mae": 12.34, "mse": 20.0}},
                          "oracle": {"b": {"mae": 5.0, "mse": 6.5}}},
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    return tmp_path


def test_tables_carry_the_metric_values(metrics):
    text = report.tables(metrics)
    assert "| SYRAC (b 2x2 patches) | 12.3 | 20.0 | 0.900 |" in text
    assert "| always the mean noisy label | 50.0 | 55.0 | - |" in text
    assert "| always the training split's mean count (uses labels) | 40.0 | 45.0 | - |" in text
    assert "quoted" not in text  # the paper's rows only beside its own benchmarks
    assert "| oracle: probe on benchmark labels (uses labels) | 5.0 | 6.5 | - |" in text  # Table 1 reference row
    assert "| no pre-training (trained end to end on the noisy counts) | 70.0 | 90.0 |" in text  # Table 3
    assert "| **synthetic ranking (SYRAC)** | 12.3 | 20.0 |" in text
    assert "| 1 | 30.0^ | 40.0 | 0.500 |" in text and "| 2 | 12.3* | 20.0 | 0.900 |" in text  # counted *, rule ^
    assert "0.875" in text and "b 0.800" in text


def test_real_benchmarks_get_the_papers_figures_quoted_beside_them(metrics):
    for name in ("eval.json", "patch_sweep.json", "patches.json", "umap.json"):
        path = metrics / name
        path.write_text(path.read_text().replace('"b"', '"shanghaitech_b"'))
    ablation = json.loads((metrics / "ablation.json").read_text())
    (metrics / "ablation.json").write_text(json.dumps({s: {"shanghaitech_b": r["b"]} for s, r in ablation.items()}))
    text = report.tables(metrics)
    assert "| quoted: SYRAC 2x2 (the paper) | 49.0 | 60.3 | - |" in text
    assert "| quoted: CSS-CCNN | - | - | - |" in text  # no SHB figure in the paper
    assert "| quoted: K = 1 (the paper) | 38.9 | 55.8 | - |" in text
    assert "| quoted: no pre-training (trained end to end on the noisy counts) (the paper) | 113.6 | 145.8 |" in text


def test_readme_block_is_replaced_between_markers_only(metrics, tmp_path):
    readme = tmp_path / "README.md"
    start, end = report.markers("results")
    readme.write_text(f"intro\n{start}\nold\n{end}\noutro\n")
    report.update_readme(readme, metrics)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text and "12.3" in text
    readme.write_text("no markers")
    with pytest.raises(SystemExit, match="markers"):
        report.update_readme(readme, metrics)


def test_the_label_noise_study_collects_every_finished_experiment(tmp_path):
    from syrac import label_noise

    def row(cv, sparse, dense, prefix="metrics/ablation.json:", rev="exp", seed=0):
        return {"Experiment": f"exp-{cv}", "rev": rev, "counting.count_cv": cv, "params.yaml:seed": seed,
                f"{prefix}synthetic_rank.sim_sparse.mae": sparse, f"{prefix}synthetic_rank.sim_dense.mae": dense,
                f"{prefix}no_pretraining.sim_sparse.mae": 2 * sparse,
                f"{prefix}no_pretraining.sim_dense.mae": dense and 2 * dense}

    rows = [row(0.8, 30.0, 300.0), row(0.4, 20.0, 200.0, prefix="", rev="workspace"),
            {"Experiment": "queued", "counting.count_cv": 1.2, "params.yaml:seed": 0},
            row(0, 10.0, None),  # a failed run: no metrics
            row(0.2, 1.0, 1.0, seed=1)]  # another experiment (a seed sweep): not a noise level
    params = label_noise.param_keys({"seed": 0, "counting": {"count_cv": 0.4, "images_per_count": 60}})
    assert params == ["seed", "counting.count_cv", "counting.images_per_count"]
    study = label_noise.collect(rows, ["sim_sparse", "sim_dense"], params)
    assert list(study) == ["0.4", "0.8"]
    assert study["0.8"] == {"synthetic_rank": {"sim_sparse": 30.0, "sim_dense": 300.0},
                            "no_pretraining": {"sim_sparse": 60.0, "sim_dense": 600.0}}
    label_noise.plot(tmp_path / "noise.png", study)
    assert (tmp_path / "noise.png").stat().st_size > 5000


def test_residuals_follow_the_rendered_scenes_and_refuse_other_parameters(tmp_path):
    from scipy.stats import spearmanr

    import yaml
    from repo import REPO, merge

    from syrac import config, residuals, storage
    from syrac.benchmarks import benchmark_scene, render_benchmark

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    cfg = config.from_dict(merge(params, {"benchmarks": {"sim_sparse": {"n_images": 8}}}))
    render_benchmark(cfg, "sim_sparse", tmp_path / "images", tmp_path / "truth")
    true = [len(storage.read_json(tmp_path / "truth" / f"IMG_{i + 1}.json")["points"]) for i in range(8)]
    scenes = [benchmark_scene(cfg, "sim_sparse", cfg.benchmarks["sim_sparse"], i) for i in range(8)]
    heights = [residuals.PROPERTIES["person height"](s) for s in scenes]
    # an error that grows with person height alone: log((pred + 1) / (true + 1)) = log(height)
    rows = [(f"IMG_{i + 1}.jpg", t, (t + 1) * h - 1) for i, (t, h) in enumerate(zip(true, heights))]
    storage.write_csv(tmp_path / "predictions.csv", ["image", "true_count", "predicted_count"], rows)

    rho = residuals.correlations(cfg, "sim_sparse", tmp_path / "predictions.csv")
    assert rho["person height"] == pytest.approx(1.0)
    blur = [s.blur for s in scenes]
    assert rho["blur"] == pytest.approx(spearmanr(blur, heights).statistic)

    with pytest.raises(ValueError, match="run `dvc repro` with these parameters"):
        residuals.correlations(dataclasses.replace(cfg, seed=1), "sim_sparse", tmp_path / "predictions.csv")
