"""The results blocks of the README and docs/review.md are generated from metrics/, never typed."""

import dataclasses
import json

import pytest

from syrac.tools import report


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
    assert "Trained on" not in text  # metrics written before the machine was recorded
    pretrain = json.loads((metrics / "pretrain.json").read_text())
    pretrain.update(precision="bf16", machine={"cpu": "AMD EPYC", "cores": 2, "device": "cpu", "torch": "2.14.1",
                                               "native_bf16": True})
    (metrics / "pretrain.json").write_text(json.dumps(pretrain))
    assert "Trained on AMD EPYC (2 cores, bf16, torch 2.14.1)." in report.tables(metrics)
    pretrain["machine"]["cpu_family"] = "Zen 4 (family 25, model 17)"
    (metrics / "pretrain.json").write_text(json.dumps(pretrain))
    assert "Trained on AMD EPYC (Zen 4 (family 25, model 17), 2 cores, bf16, torch 2.14.1)." in report.tables(metrics)
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


def test_sparse_scenes_and_seeds_get_their_tables_when_measured(metrics):
    assert "Sparse and empty scenes" not in report.tables(metrics) and "at seeds" not in report.tables(metrics)
    (metrics / "sparse_scenes.json").write_text(json.dumps({"b": {
        "0": {"crops": 40, "mean_true": 0.0, "mean_count": 3.25, "mae": 3.25},
        "6-20": {"crops": 0, "mean_true": None, "mean_count": None, "mae": None}}}))
    (metrics / "seeds.json").write_text(json.dumps({"b": {
        "seeds": {"0": {"mae": 10.0, "mse": 20.0, "spearman": 0.7, "patches": 1},
                  "1": {"mae": 14.0, "mse": 22.0, "spearman": 0.5, "patches": 2}},
        "mean": {"mae": 12.0, "mse": 21.0, "spearman": 0.6}, "min": {"mae": 10.0, "mse": 20.0, "spearman": 0.5},
        "max": {"mae": 14.0, "mse": 22.0, "spearman": 0.7}}}))
    text = report.tables(metrics)
    assert "| b | 3.2 (true 0.0, 40) | - |" in text
    assert "SYRAC at seeds 0, 1" in text
    assert "| b | 12.0 (10.0 to 14.0) | 21.0 (20.0 to 22.0) | 0.600 (0.500 to 0.700) | 1, 2 |" in text
    assert "own tiling" not in text
    seeds = json.loads((metrics / "seeds.json").read_text())
    seeds["b"]["tiling"] = {
        "mean": {"mae": 11.0, "mse": 19.0, "spearman": 0.65},
        "min": {"mae": 9.0, "mse": 18.0, "spearman": 0.6},
        "max": {"mae": 13.0, "mse": 20.0, "spearman": 0.7},
    }
    seeds["b"]["development"] = {**{k: seeds["b"][k] for k in ("seeds", "min", "max")},
                                 "mean": {"mae": 30.0, "mse": 40.0, "spearman": 0.5}}
    (metrics / "seeds.json").write_text(json.dumps(seeds))
    text = report.tables(metrics)
    assert "| b, own tiling | 11.0 (9.0 to 13.0) | 19.0 (18.0 to 20.0) | 0.650 (0.600 to 0.700) | per image |" in text
    assert "| b, development part | 30.0 (10.0 to 14.0) | 40.0 (20.0 to 22.0) | 0.500 (0.500 to 0.700) | 1, 2 |" in text
    assert "ensemble" not in text
    seeds["b"]["development"]["ensemble"] = {"mae": 25.0, "mse": 33.0, "spearman": 0.55, "seeds": 2,
                                             "tiling": {"mae": 24.0, "mse": 31.0, "spearman": 0.5}}
    (metrics / "seeds.json").write_text(json.dumps(seeds))
    text = report.tables(metrics)  # the seeds' counts averaged: one figure, no range
    assert "| b, development part, ensemble of the 2 seeds | 25.0 | 33.0 | 0.550 | per seed |" in text
    assert "| b, development part, own tiling, ensemble of the 2 seeds | 24.0 | 31.0 | 0.500 | per image |" in text


def test_seeds_compare_every_read_out_on_the_development_part_and_the_test_split(metrics):
    def spread(mae):
        summary = {stat: {"mae": mae + shift, "mse": 1.0, "spearman": 0.5} for stat, shift in
                   (("mean", 0.0), ("min", -1.0), ("max", 2.0))}
        return {**summary, "tiling": {**summary, "mean": {"mae": mae / 2, "mse": 1.0, "spearman": 0.5}}}

    seeds = {"b": {"seeds": {"0": {"patches": 1}}, **spread(12.0)},
             "readouts": {split: {"b": {"ridge_prompted": spread(10.0 + offset),
                                        "nonnegative_rank_refined_consistent": spread(20.0 + offset)}}
                          for split, offset in (("development", 100.0), ("test", 0.0))}}
    (metrics / "seeds.json").write_text(json.dumps(seeds))
    text = report.tables(metrics)
    assert "| read-out | b dev K | b dev own tiling | b test K | b test own tiling |" in text
    assert ("| ridge probe on the prompted N | 110.0 (109.0 to 112.0) | 55.0 (109.0 to 112.0) "
            "| 10.0 (9.0 to 12.0) | 5.0 (9.0 to 12.0) |") in text
    assert ("| non-negative probe without intercept (the authors' code) on rank-refined labels, + photo "
            "self-consistency | 120.0") in text


def test_seeds_give_table_3_its_spread_and_lead_the_headline(metrics):
    spread = {"mean": {"mae": 60.0, "mse": 80.0}, "min": {"mae": 50.0, "mse": 70.0}, "max": {"mae": 75.0, "mse": 95.0}}
    (metrics / "seeds.json").write_text(json.dumps({
        "b": {"seeds": {"0": {"mae": 10.0, "mse": 20.0, "spearman": 0.7, "patches": 1},
                        "1": {"mae": 14.0, "mse": 22.0, "spearman": 0.5, "patches": 2}},
              "mean": {"mae": 12.0, "mse": 21.0, "spearman": 0.6}, "min": {"mae": 10.0, "mse": 20.0, "spearman": 0.5},
              "max": {"mae": 14.0, "mse": 22.0, "spearman": 0.7}},
        "ablation": {"no_pretraining": {"b": spread}}}))
    assert "| no pre-training (trained end to end on the noisy counts) | 60.0 (50.0 to 75.0) |" in report.tables(
        metrics
    )
    text = report.tables(metrics)
    assert text.index("Table 2") < text.index("SYRAC at seeds 0, 1") < text.index("Table 3 at seeds 0, 1")


def test_peers_sit_beside_syrac_with_their_speed(metrics):
    row = {"mae": 80.0, "mse": 90.0, "spearman": 0.25, "images_per_s": 3.5}
    (metrics / "peers.json").write_text(json.dumps({"b": {"hog": row, "syrac": {**row, "images_per_s": 12.0}}}))
    text = report.tables(metrics)
    assert "| peer: HOG people detector (OpenCV; trained on pedestrians) | 80.0 | 90.0 | 0.250 |" in text
    assert text.index("| SYRAC (b 2x2") < text.index("| peer: HOG") < text.index("| always the mean noisy")
    assert (
        "| SYRAC at the benchmark's K (`syrac count --patches K`, envelope included) | 12.0 |" in text
        and "| HOG people detector" in text
    )


def test_the_per_image_tiling_gets_its_row_and_how_often_each_grid_was_reached(metrics):
    assert "own tiling" not in report.tables(metrics)  # metrics written before the tiling existed
    evaluation = json.loads((metrics / "eval.json").read_text())
    evaluation["b"]["tiling"] = {"mae": 9.5, "mse": 15.25, "spearman": 0.95, "finest_grid": {"1": 2, "2": 1}}
    (metrics / "eval.json").write_text(json.dumps(evaluation))
    text = report.tables(metrics)
    assert "| SYRAC, each image on its own tiling (`syrac count`'s default) | 9.5 | 15.2 | 0.950 |" in text
    assert "The finest grid each image's own tiling reached: b 1x1 2, 2x2 1." in text


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
    from syrac.studies import label_noise

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
    import yaml
    from repo import REPO, merge
    from scipy.stats import spearmanr

    from syrac import config, storage
    from syrac.data.benchmarks import benchmark_scene, render_benchmark
    from syrac.studies import residuals

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


def test_the_review_block_carries_each_answer(tmp_path):
    bins = {b: {"pairs": 3, "accuracy": 0.5} for b in ("1-1.25", "1.25-2", "2-4", ">4")}
    gap = {"relative_gap": 0.123, "source_above_edit": 0.75, "pairs": 4}
    files = {
        "review_ranking.json": {
            "pair_accuracy": {"shanghaitech_b": {"synthetic_rank": {**bins, "all": {"pairs": 12, "accuracy": 0.625}}}},
            "no_removal_edits": {"shanghaitech_b": {"photometric_no_removal": gap}},
            "held_out_pairs": {"source_vs_own_edit": {"pairs": 8, "accuracy": 0.99},
                               "source_vs_source": {"pairs": 5, "accuracy": 0.8},
                               "edit_vs_edit": {"pairs": 5, "accuracy": 0.7}}},
        "review_worst_pairs.json": {"shanghaitech_b": [{"more": "IMG_1.jpg", "more_count": 300, "more_proxy": 1.5,
                                                        "fewer": "IMG_2.jpg", "fewer_count": 20, "fewer_proxy": 2.5}]},
        "review_probes.json": {split: {"shanghaitech_b": {r: {"mae": 40.0 + i + 10 * j, "mse": 50.0, "spearman": 0.7}
                                                          for i, r in enumerate(("ridge_prompted", "ridge_rank_refined",
                                                                                 "nonnegative_prompted_consistent",
                                                                                 "classification", "rank_head"))}}
                               for j, split in enumerate(("test", "development"))},
        "ablation.json": {"synthetic_rank": {"shanghaitech_b": {"mae": 40.0, "mse": 50.0}},
                          "synthetic_rank_fine_tuned": {"shanghaitech_b": {"mae": 33.3, "mse": 44.4}}},
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    cost = {"device": "CPU", "generation_cost": {
        "embedded": {"removal_edit_s": 0.0123, "source_s": 0.01, "counting_image_s": 0.0045},
        "stable_diffusion_2_1": {"dtype": "float32",
                                 "edit": {"per_image_s": 95.0, "unet_steps": 22, "unet_step_s": 4.0},
                                 "counting_image": {"per_image_s": 260.0, "unet_steps": 50, "unet_step_s": 5.0}}}}
    (tmp_path / "results.json").write_text(json.dumps(cost))
    text = report.review_tables(tmp_path, tmp_path / "results.json")
    assert "| synthetic rank | all | 0.625 |" in text and "| pairs | >4 | 3 |" in text
    assert "SHB: IMG_1.jpg (300 people, proxy 1.5) ranked below IMG_2.jpg (20, proxy 2.5)" in text
    assert "| photometric edit, nobody removed | proxy gap (source - edit) / source | +12.3% |" in text
    assert "| simulator edit, nobody removed | share ranked source > edit | - |" in text  # photos have no scene
    assert "each source above its own edit 0.990 (8 pairs)" in text
    assert "| SYRAC fine-tuned whole on the noisy counts | 33.3 | 44.4 |" in text
    assert "| ridge probe on rank-refined labels | test | 41.0 | 0.700 |" in text
    assert "| ridge probe on rank-refined labels | development | 51.0 | 0.700 |" in text
    assert ("| non-negative probe without intercept (the authors' code) on the prompted N, + photo self-consistency "
            "| test | 42.0 |" in text)
    assert "| removal edit (ranking pair) | 12.3 ms | 95 s (22 UNet steps of 4.0 s) |" in text
    assert "| counting image | 4.5 ms | 260 s (50 UNet steps of 5.0 s) |" in text


@pytest.mark.parametrize("block, page, metrics_dir", [
    ("readme-embedded", "README.md", "metrics"), ("readme-real", "README.md", "metrics/real"),
    ("results", "docs/embedded-results.md", "metrics"), ("real-results", "docs/real-photographs.md", "metrics/real"),
    ("review", "docs/review.md", "metrics/real"), ("scale", "docs/count-scale.md", "metrics")])
def test_the_generated_blocks_match_the_committed_metrics(block, page, metrics_dir):
    from repo import REPO

    text = (REPO / page).read_text()
    start, end = report.markers(block)
    generated = text[text.index(start) + len(start) + 1:text.index(end)]
    if block == "review":
        expected = report.review_tables(REPO / metrics_dir, REPO / "perf/results/cpu/results.json")
    else:
        expected = report.BLOCKS[block](REPO / metrics_dir)
    assert generated == expected.rstrip() + "\n"  # the end marker on a line of its own


def test_the_detector_rules_table_holds_each_rule_against_the_counter_on_both_development_parts():
    def figures(*maes):
        return {"seeds": {str(i): {"mae": m, "total_ratio": 1.0} for i, m in enumerate(maes)},
                "mean": {"mae": sum(maes) / len(maes), "total_ratio": 1.0},
                "min": {"mae": min(maes), "total_ratio": 1.0}, "max": {"mae": max(maes), "total_ratio": 1.0}}

    dev = {"counter": (10.0, 20.0), "anchored": (30.0, 40.0), "lower_bound": (9.0, 19.0), "midpoint": (11.0, 5.0)}
    summary = {f"{benchmark}{part}": {rule: figures(maes[i], maes[i] + 2) for rule, maes in dev.items()}
               for i, benchmark in enumerate(("shanghaitech_a", "shanghaitech_b")) for part in ("", "_development")}
    rows = report.detector_rules_table({"summary": summary}).splitlines()[2:]
    assert [row.rsplit("| ", 1)[1] for row in rows] == ["the reference |", "not ahead on both |", "ahead on both |",
                                                       "not ahead on both |"]
    assert rows[2].startswith("| the larger of the counter's and the detector's count | 10.0 (9.0 to 11.0) | 1.00 |")
