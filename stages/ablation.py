"""Stage: the pre-training ablation (paper Table 3), every strategy through the same probe (the
paper's: fitted on the prompted counts) and KxK patch inference on every benchmark, plus SYRAC
fine-tuned whole on the noisy counts (the review's question 3) and the adopted counter with its own
probe (params probe); the supervised oracle is labelled as using labels."""



from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.data.counting import LABELS, read_labels
from syrac.figures import grouped_bars
from syrac.inference.evaluation import patch_true_counts, read_grids, scores, true_counts
from syrac.method.features import extract
from syrac.method.model import compute_device, load_probe, load_rank_model, to_device
from syrac.method.probe import fit_probe
from syrac.studies.ablation import cached_features, strategy_features, untrained_models

if __name__ == "__main__":
    args = config.stage_paths("rank_path", "counter_path", "intra_path", "end_to_end_path", "fine_tuned_path", "counting_dir", "bench_root", "counting_features", "bench_features", "train_root", "truth_root", "train_truth_root", "grids_path", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    grids, size = read_grids(args.grids_path), cfg.model.input_size
    counting_names, prompted = read_labels(args.counting_dir / LABELS)
    counting = [args.counting_dir / name for name in counting_names]
    manifests = {name: read_manifest(args.bench_root / name) for name in cfg.benchmarks}
    truth = {name: true_counts(args.truth_root / name, names) for name, (names, _) in manifests.items()}
    test_paths = {name: paths for name, (_, paths) in manifests.items()}

    def fit(features, targets):
        return fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, cfg.probe.form)[0]

    def mae_mse(probe, patches, name):
        return {m: v for m, v in scores(probe.image_counts(patches), truth[name]).items() if m in ("mae", "mse")}

    baselines = {"no_pretraining": load_rank_model(args.end_to_end_path)[0], **untrained_models(cfg),
                 "intra_image_rank": load_rank_model(args.intra_path)[0]}
    features = {strategy: strategy_features(to_device(model, compute_device()), counting, test_paths, grids, size, strategy)
                for strategy, model in baselines.items()}
    features["synthetic_rank"] = cached_features(args.counting_features, args.bench_features, counting_names, grids)
    features["synthetic_rank_fine_tuned"] = strategy_features(  # the review's "frozen or fine-tuned?"
        to_device(load_rank_model(args.fine_tuned_path)[0], compute_device()), counting, test_paths, grids, size, "fine-tuned")
    results, patches = {}, {}
    for strategy, (whole, patches[strategy]) in features.items():
        probe = fit(whole, prompted)
        results[strategy] = {name: mae_mse(probe, patches[strategy][name], name) for name in cfg.benchmarks}
    counter = load_probe(args.counter_path)  # the adopted counter's own probe (params probe) on the same features
    results["syrac_counter"] = {name: mae_mse(counter, patches["synthetic_rank"][name], name) for name in cfg.benchmarks}
    results["oracle"] = {}  # SYRAC's encoder, probe fitted on the true counts of training patches
    syrac_encoder = to_device(load_rank_model(args.rank_path)[0], compute_device())
    for name in cfg.benchmarks:
        k = grids[name]
        train_names, train_paths = read_manifest(args.train_root / name)
        train_features = extract(syrac_encoder, train_paths, (k,), size, f"oracle: {name} train")[f"k{k}"]
        patch_counts = patch_true_counts(args.train_truth_root / name, train_names, train_paths, k)
        probe = fit(train_features.reshape(-1, train_features.shape[-1]), patch_counts.ravel())
        results["oracle"][name] = mae_mse(probe, patches["synthetic_rank"][name], name)
    storage.write_json(args.metrics_path, results)
    grouped_bars(args.plots_dir / "ablation.png", results, "mae",
                 "Pre-training ablation: MAE with each benchmark's KxK patches (the oracle uses benchmark labels)")
    for strategy, row in results.items():
        print(f"{strategy:>22}: " + "  ".join(f"{name} MAE {v['mae']:.1f} MSE {v['mse']:.1f}" for name, v in row.items()))
