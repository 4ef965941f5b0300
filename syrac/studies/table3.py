"""Table 3, the pre-training ablation: every encoder of ``syrac.studies.ablation`` read out the same
way on every benchmark (stage ``ablation``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from syrac import storage
from syrac.config import Config
from syrac.data.benchmarks import read_manifest
from syrac.inference.evaluation import patch_true_counts, scores, true_counts
from syrac.method.counter import load_probe
from syrac.method.features import extract
from syrac.method.model import compute_device, load_rank_model, to_device
from syrac.method.readouts import fit_probe
from syrac.studies.ablation import cached_features, strategy_features, untrained_models
from syrac.synthetic.counting import LABELS, read_labels


def pretraining_ablation(cfg: Config, models: dict[str, Path], counting_dir: Path, bench_root: Path,
                         counting_features: Path, bench_features: Path, train_root: Path, truth_root: Path,
                         train_truth_root: Path, grids: dict[str, int],
                         encoder_features: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Table 3: {strategy: {benchmark: {mae, mse}}}. Every encoder (``models``: rank, counter, intra,
    end_to_end, fine_tuned files) read by the same probe fitted on the prompted counts and the same
    KxK patches; SYRAC's from the cached features; the adopted counter's own probe beside it; and
    the labelled oracle, a probe fitted on the training split's true patch counts.

    The baselines' patch features (the end-to-end, untrained and intra-image encoders; not the
    fine-tuned copy's, which nothing reads again) are kept in ``encoder_features``/<strategy>/<benchmark>.npz
    (``extract_features``' layout), so that the review reads the same encoders without encoding
    the benchmarks again."""
    size = cfg.model.input_size
    counting_names, prompted = read_labels(counting_dir / LABELS)
    counting = [counting_dir / name for name in counting_names]
    manifests = {name: read_manifest(bench_root / name) for name in cfg.benchmarks}
    truth = {name: true_counts(truth_root / name, names) for name, (names, _) in manifests.items()}
    test_paths = {name: paths for name, (_, paths) in manifests.items()}

    def fit(features, targets):
        return fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, cfg.probe.form)[0]

    def mae_mse(probe, patches, name):
        return {m: v for m, v in scores(probe.image_counts(patches), truth[name]).items() if m in ("mae", "mse")}

    baselines = {"no_pretraining": load_rank_model(models["end_to_end"])[0], **untrained_models(cfg),
                 "intra_image_rank": load_rank_model(models["intra"])[0]}
    device = compute_device()
    features = {strategy: strategy_features(to_device(model, device), counting, test_paths, grids, size, strategy)
                for strategy, model in baselines.items()}
    for strategy, (_, by_bench) in features.items():
        for name, patches in by_bench.items():
            storage.save_npz(encoder_features / strategy / f"{name}.npz", images=np.array(manifests[name][0]),
                             **{f"k{grids[name]}": patches})
    features["synthetic_rank"] = cached_features(counting_features, bench_features, counting_names, grids)
    features["synthetic_rank_fine_tuned"] = strategy_features(  # the review's "frozen or fine-tuned?"
        to_device(load_rank_model(models["fine_tuned"])[0], device), counting, test_paths, grids, size, "fine-tuned")
    results, patches = {}, {}
    for strategy, (whole, patches[strategy]) in features.items():
        probe = fit(whole, prompted)
        results[strategy] = {name: mae_mse(probe, patches[strategy][name], name) for name in cfg.benchmarks}
    counter = load_probe(models["counter"])  # the adopted counter's own probe (params probe) on the same features
    results["syrac_counter"] = {name: mae_mse(counter, patches["synthetic_rank"][name], name)
                                for name in cfg.benchmarks}
    results["oracle"] = {}  # SYRAC's encoder, probe fitted on the true counts of training patches
    syrac_encoder = to_device(load_rank_model(models["rank"])[0], compute_device())
    for name in cfg.benchmarks:
        k = grids[name]
        train_names, train_paths = read_manifest(train_root / name)
        train_features = extract(syrac_encoder, train_paths, (k,), size, f"oracle: {name} train")[f"k{k}"]
        patch_counts = patch_true_counts(train_truth_root / name, train_names, train_paths, k)
        probe = fit(train_features.reshape(-1, train_features.shape[-1]), patch_counts.ravel())
        results["oracle"][name] = mae_mse(probe, patches["synthetic_rank"][name], name)
    return results
