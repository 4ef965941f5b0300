"""Stage: the KxK grid of each benchmark, fixed in params or chosen without labels ("auto").

Reads the counter and features only, never ground truth: "auto" takes the coarsest K of
evaluate.sweep at which nearly all patches are counted within the counting set's label range
(syrac.inference.evaluation.choose_grid). The evaluation, the figure and the ablation all count with the K
written here.
"""


from syrac import config, storage
from syrac.inference.evaluation import IN_RANGE_SHARE, choose_grid, load_features
from syrac.method.counter import load_probe

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "features_root", "out_path")
    cfg = config.load_for_stage()
    probe, max_label = load_probe(args.counter_path), max(cfg.counting.prompted_counts)
    chosen = {}
    for name in cfg.benchmarks:
        features = load_features(args.features_root / f"{name}.npz")[1]
        k, upper = choose_grid(probe, {k: features[f"k{k}"] for k in cfg.evaluate.sweep}, max_label)
        auto = cfg.evaluate.patches[name] == config.AUTO
        chosen[name] = {"patches": k if auto else cfg.evaluate.patches[name], "rule": "auto" if auto else "fixed",
                        "auto_choice": k, "max_label": max_label,
                        "patch_count_q90": {str(g): round(c, 2) for g, c in upper.items()}}
        print(
            f"{name}: K = {chosen[name]['patches']} ({chosen[name]['rule']}); auto would take {k}: "
            f"{IN_RANGE_SHARE:.0%} of patches counted at most "
            + ", ".join(f"K={g} {c:.0f}" for g, c in upper.items())
            + f" (label range up to {max_label})"
        )
    storage.write_json(args.out_path, chosen)
