"""Stage: UMAP of pre-trained features per benchmark, coloured by true count (paper Figure 6)."""


import torch
from scipy.stats import spearmanr

from syrac import config, storage
from syrac.figures import scatter_by_count, umap_embedding
from syrac.inference.evaluation import load_features, true_counts
from syrac.method.model import load_rank_model

if __name__ == "__main__":
    args = config.stage_paths("rank_path", "features_root", "truth_root", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    model, _ = load_rank_model(args.rank_path)
    results = {}
    for name in cfg.benchmarks:
        images, features = load_features(args.features_root / f"{name}.npz")
        whole = features["k1"][:, 0]
        counts = true_counts(args.truth_root / name, images)
        with torch.no_grad():
            proxy = model.head(torch.from_numpy(whole)).numpy()
        xy = umap_embedding(whole, cfg.umap.n_neighbors, cfg.umap.min_dist, cfg.seed)
        results[name] = {"spearman_proxy_vs_true": float(spearmanr(proxy, counts)[0])}
        scatter_by_count(
            args.plots_dir / f"{name}.png",
            xy,
            counts,
            f"{name}: rank features (Spearman proxy vs true {results[name]['spearman_proxy_vs_true']:.2f})",
        )
        print(name, results[name])
    storage.write_json(args.metrics_path, results)
