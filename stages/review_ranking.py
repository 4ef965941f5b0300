"""Stage (review questions 1 and 2): does a rank head order real images by their count, and did the
ranking loss learn only "edited or not"? The heads of SYRAC, of the intra-image baseline and of the
untrained encoder (a head fitted on SYRAC's training pairs the same way) on every benchmark."""


from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.figures import image_grid
from syrac.inference.evaluation import load_features, read_grids, true_counts
from syrac.method.features import extract
from syrac.method.model import compute_device, load_rank_model, to_device
from syrac.method.pretrain import load_pairs, split_holdout
from syrac.method.probe import rank_head_weights
from syrac.storage import read_image
from syrac.studies import review
from syrac.studies.ablation import init_strategy, initial_model

if __name__ == "__main__":
    args = config.stage_paths("rank_path", "intra_path", "pairs_dir", "pairs_truth", "bench_root", "features_root", "truth_root", "grids_path", "metrics_path", "worst_path", "plots_dir")
    cfg = config.load_for_stage()
    grids, size, device = read_grids(args.grids_path), cfg.model.input_size, compute_device()
    syrac, intra = (to_device(load_rank_model(path)[0], device) for path in (args.rank_path, args.intra_path))
    untrained = to_device(initial_model(cfg), device)
    train, held = split_holdout(load_pairs(args.pairs_dir, size), cfg.pretrain.holdout_fraction, cfg.seed)
    fitted, fitted_accuracy = review.untrained_head(cfg, untrained, train)
    heads = {"synthetic_rank": (syrac, rank_head_weights(syrac.state_dict())),
             "intra_image_rank": (intra, rank_head_weights(intra.state_dict())),
             f"{init_strategy(cfg)}_fitted_head": (untrained, fitted)}
    results = {"untrained_head_train_ranking_accuracy": fitted_accuracy, "pair_accuracy": {}, "no_removal_edits": {}}
    worst = {}
    for name in cfg.benchmarks:
        k, (names, paths) = grids[name], read_manifest(args.bench_root / name)
        truth = true_counts(args.truth_root / name, names)
        proxies = {strategy: review.head_proxies(*head, load_features(args.features_root / f"{name}.npz")[1][f"k{k}"]
                                                 if model is syrac else
                                                 extract(model, paths, (k,), size, f"{strategy}: {name}")[f"k{k}"])
                   for strategy, (model, head) in heads.items()}
        results["pair_accuracy"][name] = {s: review.pair_accuracy_by_ratio(p, truth) for s, p in proxies.items()}
        worst[name] = review.worst_pairs(proxies["synthetic_rank"], truth, names, cfg.review.worst_pairs)
        image_grid(args.plots_dir / f"worst_pairs_{name}.png",
                   [(read_image(paths[names.index(pair[side])]),
                     f"{pair[side]}: {pair[side + '_count']:.0f} people, proxy {pair[side + '_proxy']:.1f}")
                    for pair in worst[name][:3] for side in ("more", "fewer")]
                   or [(read_image(paths[0]), "no pair is misordered")],
                   f"{name}: worst-ordered pairs by SYRAC's rank head (the left of each pair has more people)")

        edits = review.photo_edit_proxies(cfg, name, paths, syrac, k)
        gaps = {"photometric_no_removal": review.edit_gap(edits["source"], edits["photometric"])}
        if name in cfg.simulated_benchmarks:
            scenes = review.sim_edit_proxies(cfg, name, syrac, k)
            gaps["scene_no_removal"] = review.edit_gap(scenes["source"], scenes["no_removal"])
            gaps["scene_removal"] = {**review.edit_gap(scenes["source"], scenes["removal"]),
                                     "removed_share": float(scenes["removed_share"].mean())}
        results["no_removal_edits"][name] = gaps
        print(name, {s: round(r["all"]["accuracy"], 3) for s, r in results["pair_accuracy"][name].items()}, gaps)
    counts = review.pair_image_counts(args.pairs_dir, args.pairs_truth)
    if counts is not None:
        results["held_out_pairs"] = review.held_out_accuracies(syrac, held, counts)
        print("held-out synthetic pairs:", results["held_out_pairs"])
    storage.write_json(args.metrics_path, results)
    storage.write_json(args.worst_path, worst)
    review.plot_pair_accuracy(args.plots_dir / "pair_accuracy.png", results["pair_accuracy"])
