"""Answers to the questions the paper's reviewers asked (ICLR 2024), measured rather than argued.

Each function is one measurement; the stages ``review_ranking`` and ``review_probes`` (and the
``fine_tune`` row of the ablation) run them, and docs/review.md is generated from their metrics.
Labels enter only as the read-out: which pairs are ordered correctly, how far a count is from the
truth.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from tqdm import tqdm

from syrac import storage
from syrac.config import Config
from syrac.data.benchmarks import benchmark_scene, read_manifest
from syrac.figures import image_grid
from syrac.inference.evaluation import load_features, true_counts
from syrac.method.features import encode, image_patches
from syrac.method.model import RankCounter, compute_device, load_rank_model, read_model_file, to_device
from syrac.method.pretrain import PairSet, concat, load_pairs, photo_pairs, split_holdout
from syrac.method.probe import cross_validate, rank_head_weights
from syrac.method.readouts import fit_probe
from syrac.storage import read_image
from syrac.studies.ablation import init_strategy, initial_model
from syrac.synthetic import sim

# Question 1: the count ratio of the two images of a pair, lower edges of the bins (the last is open).
RATIO_BINS = (1.0, 1.25, 2.0, 4.0)


def ratio_bin_names() -> list[str]:
    edges = [f"{e:g}" for e in RATIO_BINS]
    return [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:])] + [f">{edges[-1]}"]


def ordered_pairs(true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of images with different true counts as (more, fewer, ratio): index of the
    image with more people, of the one with fewer, and the ratio of their counts (inf over 0)."""
    i, j = np.triu_indices(len(true), 1)
    keep = true[i] != true[j]
    i, j = i[keep], j[keep]
    more = np.where(true[i] > true[j], i, j)
    fewer = np.where(true[i] > true[j], j, i)
    with np.errstate(divide="ignore"):
        ratio = true[more] / true[fewer]
    return more, fewer, ratio


def pair_accuracy_by_ratio(proxy: np.ndarray, true: np.ndarray) -> dict[str, dict[str, float]]:
    """Share of image pairs the proxy orders like the true counts, per count-ratio bin and over
    all; a tie counts as half right (a coin toss)."""
    more, fewer, ratio = ordered_pairs(true)
    right = (proxy[more] > proxy[fewer]) + 0.5 * (proxy[more] == proxy[fewer])
    which = np.digitize(ratio, RATIO_BINS[1:])
    result = {}
    for b, name in enumerate(ratio_bin_names()):
        inside = which == b
        result[name] = {
            "pairs": int(inside.sum()),
            "accuracy": float(right[inside].mean()) if inside.any() else math.nan,
        }
    result["all"] = {"pairs": len(right), "accuracy": float(right.mean()) if len(right) else math.nan}
    return result


def worst_pairs(proxy: np.ndarray, true: np.ndarray, names: list[str], n: int) -> list[dict]:
    """The n misordered pairs whose true counts differ by the largest ratio: how it fails worst."""
    more, fewer, ratio = ordered_pairs(true)
    wrong = np.flatnonzero(proxy[more] < proxy[fewer])
    worst = wrong[np.lexsort((-(true[more] - true[fewer])[wrong], -ratio[wrong]))][:n]
    return [{"more": names[more[w]], "more_count": float(true[more[w]]), "more_proxy": float(proxy[more[w]]),
             "fewer": names[fewer[w]], "fewer_count": float(true[fewer[w]]), "fewer_proxy": float(proxy[fewer[w]])}
            for w in worst]


def plot_pair_accuracy(path: Path, accuracy: dict[str, dict[str, dict]]) -> None:
    """Pair accuracy against the count-ratio bin: one panel per benchmark, one line per rank head."""
    from syrac.figures import plt, save_figure

    bins = ratio_bin_names()
    fig, axes = plt.subplots(
        1, len(accuracy), figsize=(3.4 * len(accuracy) + 0.5, 3.4), dpi=110, squeeze=False, sharey=True
    )
    for ax, (bench, heads) in zip(axes[0], accuracy.items()):
        for head, by_bin in heads.items():
            ax.plot(bins, [by_bin[b]["accuracy"] for b in bins], marker="o", label=head.replace("_", " "))
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set(title=bench, xlabel="count ratio of the pair", ylim=(0.3, 1.0))
    axes[0][0].set_ylabel("pairs ordered by true count")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def head_proxies(weight: np.ndarray, bias: float, patch_features: np.ndarray) -> np.ndarray:
    """A rank head read over a KxK grid: N x K*K x D features -> N proxy counts (sum over patches)."""
    return (patch_features @ weight + bias).sum(axis=1)


def fit_rank_head(source: np.ndarray, edit: np.ndarray, steps: int = 500, lr: float = 0.01,
                  seed: int = 0) -> tuple[np.ndarray, float]:
    """A non-negative linear rank head on frozen features, fitted as SYRAC's own head is (loss
    -log sigmoid(c_source - c_edit), weights projected to >= 0), by full-batch Adam: the
    untrained encoder's best ranking read-out. Features are rescaled to unit mean for the step
    size; the returned weight applies to the raw features."""
    scale = float(np.concatenate([source, edit]).mean()) or 1.0
    difference = torch.from_numpy((source - edit) / scale).float()
    torch.manual_seed(seed)
    weight = torch.nn.Parameter(torch.rand(difference.shape[1]) / difference.shape[1])
    optimiser = torch.optim.Adam([weight], lr=lr)
    for _ in range(steps):
        loss = F.softplus(-(difference @ weight)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            weight.clamp_(min=0.0)
    return weight.detach().numpy() / scale, 0.0


def encode_images(model: RankCounter, images: list[Image.Image], k: int, size: tuple[int, int]) -> np.ndarray:
    """Features of the KxK patches of in-memory images: N x K*K x D (as ``extract`` for files)."""
    return np.stack([encode(model, image_patches(image, (k,), size)) for image in images])


# Question 2: edits that remove nobody.
def no_removal_twin(source: sim.Scene, edited: sim.Scene) -> sim.Scene:
    """The edit with nobody removed: the edited scene's global perturbation (texture, paving,
    colours, gain, blur, noise) over all of the source's people, each as the edit drew them where
    it kept them. Its count is the source's."""
    kept = {(p.x, p.y): p for p in edited.people}
    return replace(edited, people=tuple(kept.get((p.x, p.y), p) for p in source.people), clutter=source.clutter)


def photometric_edit(image: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """The removal edit's image-wide part, for photos that have no scene to edit: a colour gain per
    channel in 1 +- 0.3 x strength and sensor noise (sd 1-3% of the range), the scales of
    ``sim.remove_people``. Nobody is removed. The edit's blur change is left out: the simulator
    draws it around the source's own blur, while a photo can only be blurred further, which would
    hide small heads and confound "edited" with "fewer people visible"."""
    gain = rng.uniform(1 - 0.3 * strength, 1 + 0.3 * strength, size=3)
    pixels = np.asarray(image, np.float32) / 255 * gain + rng.normal(
        0, rng.uniform(0.01, 0.03), (image.height, image.width, 3)
    )
    return Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8))


REVIEW_EDITS = 5  # the edits' random stream (syrac.synthetic.sim's streams are 1 to 4)


def sim_edit_proxies(cfg: Config, name: str, model: RankCounter, k: int) -> dict[str, np.ndarray]:
    """Proxy counts of each test scene of a simulated benchmark, of its removal edit (the pairs'
    settings) and of that edit's no-removal twin, plus the share of people the edit removed. All
    three rendered the same way (no JPEG), so only the edit differs."""
    bench, p, size = cfg.benchmarks[name], cfg.pairs, cfg.model.input_size
    rendered = {"source": [], "removal": [], "no_removal": []}
    removed = []
    for index in range(bench.n_images):
        scene = benchmark_scene(cfg, name, bench, index)
        edited = sim.remove_people(scene, sim.scene_rng(cfg.seed, REVIEW_EDITS, zlib.crc32(name.encode()), index),
                                   p.strength, p.remove_prob, p.clutter_prob)
        for kind, shown in (("source", scene), ("removal", edited), ("no_removal", no_removal_twin(scene, edited))):
            rendered[kind].append(Image.fromarray(sim.render(shown)))
        removed.append(1 - edited.count / max(scene.count, 1))
    head = rank_head_weights(model.state_dict())
    proxies = {kind: head_proxies(*head, encode_images(model, images, k, size)) for kind, images in rendered.items()}
    return {**proxies, "removed_share": np.array(removed)}


def photo_edit_proxies(cfg: Config, name: str, paths: list[Path], model: RankCounter, k: int) -> dict[str, np.ndarray]:
    """Proxy counts of each test photo and of its photometric no-removal edit (one photo at a time)."""
    weight, bias = rank_head_weights(model.state_dict())
    key, proxies = zlib.crc32(name.encode()), []
    for i, path in enumerate(tqdm(paths, desc=f"{name}: no-removal edits", unit="img")):
        source = read_image(path)
        edit = photometric_edit(source, np.random.default_rng([cfg.seed, REVIEW_EDITS, key, i]), cfg.pairs.strength)
        proxies.append(head_proxies(weight, bias, encode_images(model, [source, edit], k, cfg.model.input_size)))
    source_proxy, edit_proxy = np.array(proxies).T
    return {"source": source_proxy, "photometric": edit_proxy}


def edit_gap(source_proxy: np.ndarray, edit_proxy: np.ndarray) -> dict[str, float]:
    """How the rank head sees an edit beside its source: the mean proxy-count gap relative to the
    mean source proxy, and the share of pairs it ranks source > edit. About 0 and 0.5 for edits
    that remove nobody when the head counts people; a large gap there is a shortcut."""
    return {"relative_gap": float((source_proxy - edit_proxy).mean() / (np.abs(source_proxy).mean() or 1.0)),
            "source_above_edit": float((source_proxy > edit_proxy).mean()), "pairs": len(source_proxy)}


def pair_image_counts(pairs_dir: Path, truth_dir: Path) -> np.ndarray | None:
    """The true count of every image of ``load_pairs``' cache (in its order), or None where the
    generator could not know them (Stable Diffusion edits)."""
    rows = storage.read_csv(truth_dir / "pairs.csv")
    if any(r["source_count"] == "" or r["edit_count"] == "" for r in rows):
        return None
    known = {r[side]: float(r[f"{side}_count"]) for r in rows for side in ("source", "edit")}
    return np.array([known[path] for path in sorted(known)])  # load_pairs orders its cache by path


def held_out_accuracies(model: RankCounter, held: PairSet, counts: np.ndarray) -> dict[str, dict[str, float]]:
    """The rank head on held-out synthetic pairs of known counts: each source against its own edit
    (where the edit removed someone), and sources against sources, edits against edits (pairs of
    different counts). A head that only learnt "edited or not" would do well on the first alone."""
    weight, bias = rank_head_weights(model.state_dict())
    sources, edits = np.unique(held.source.numpy()), np.unique(held.edit.numpy())
    shown = np.concatenate([sources, edits])
    proxy = np.zeros(len(counts))
    proxy[shown] = encode(model, held.images[shown].permute(0, 2, 3, 1).numpy()) @ weight + bias
    s, e = held.source.numpy(), held.edit.numpy()
    dropped = counts[e] < counts[s]
    return {
        "source_vs_own_edit": {"pairs": int(dropped.sum()), "accuracy": float((proxy[s] > proxy[e])[dropped].mean())},
        "source_vs_source": pair_accuracy_by_ratio(proxy[sources], counts[sources])["all"],
        "edit_vs_edit": pair_accuracy_by_ratio(proxy[edits], counts[edits])["all"],
    }


def untrained_head(cfg: Config, model: RankCounter, train: PairSet,
                   people_dir: Path) -> tuple[tuple[np.ndarray, float], float]:
    """The untrained encoder's rank head, fitted on the training pairs SYRAC saw (the synthetic
    ``train`` pairs plus any unlabelled photos' crops and edits); and its training accuracy."""
    photos = photo_pairs(cfg, people_dir)
    train = concat(train, photos) if photos is not None else train
    features = encode(model, train.images.permute(0, 2, 3, 1).numpy())
    source, edit = features[train.source.numpy()], features[train.edit.numpy()]
    weight, bias = fit_rank_head(source, edit, seed=cfg.seed)
    return (weight, bias), float(((source - edit) @ weight > 0).mean())


class RankHeadProbe:
    """The rank head's proxy count, calibrated to the noisy labels by a 1-D ridge fit (scale and
    offset): two parameters read from the counting set instead of one per feature."""

    def __init__(self, weight: np.ndarray, bias: float, features: np.ndarray, targets: np.ndarray, grid, folds: int,
                 seed: int):
        self.weight, self.bias = weight, bias
        self.calibration = fit_probe(self._proxy(features), targets, grid, folds, seed)[0]

    def _proxy(self, features: np.ndarray) -> np.ndarray:
        return (features @ self.weight + self.bias)[..., None]

    def patch_counts(self, features: np.ndarray) -> np.ndarray:
        return self.calibration.patch_counts(self._proxy(features))

    def image_counts(self, patch_features: np.ndarray) -> np.ndarray:
        return self.patch_counts(patch_features).sum(axis=1)


# Question 5: a classifier over the prompted counts.
class CountClassifier:
    """Multinomial logistic regression over the prompted counts on standardised features (L-BFGS,
    penalty ||W||^2 / 2C as scikit-learn's); a patch's count is the expected prompted N under its
    class probabilities, so it never exceeds the largest N."""

    def __init__(self, features: np.ndarray, prompted: np.ndarray, c: float):
        self.mean, self.std = features.mean(0), features.std(0) + 1e-6
        self.classes = np.unique(prompted)
        x = torch.from_numpy(self._standard(features)).double()
        y = torch.from_numpy(np.searchsorted(self.classes, prompted))
        self.weight = torch.zeros(x.shape[1], len(self.classes), dtype=torch.float64, requires_grad=True)
        self.bias = torch.zeros(len(self.classes), dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS([self.weight, self.bias], max_iter=500, line_search_fn="strong_wolfe")

        def closure():
            optimiser.zero_grad()
            loss = F.cross_entropy(x @ self.weight + self.bias, y) + (self.weight**2).sum() / (2 * c * len(y))
            loss.backward()
            return loss

        optimiser.step(closure)

    def _standard(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.std

    @torch.no_grad()
    def patch_counts(self, features: np.ndarray) -> np.ndarray:
        flat = torch.from_numpy(self._standard(features.reshape(-1, features.shape[-1]))).double()
        probabilities = torch.softmax(flat @ self.weight + self.bias, dim=1).numpy()
        return (probabilities @ self.classes).reshape(features.shape[:-1])

    def image_counts(self, patch_features: np.ndarray) -> np.ndarray:
        return self.patch_counts(patch_features).sum(axis=1)


def fit_classifier(
    features: np.ndarray, prompted: np.ndarray, grid, folds: int, seed: int
) -> tuple[CountClassifier, dict]:
    """C = 1 / alpha over the ridge probe's grid, chosen as its alpha is: by the cross-validated
    RMSE of the count on the noisy labels."""
    errors = cross_validate(features, prompted, [1.0 / alpha for alpha in grid], folds, seed,
                            fit=CountClassifier, predict=CountClassifier.patch_counts)
    c = min(errors, key=errors.get)
    return CountClassifier(features, prompted, c), {"c": c, "cv_rmse_noisy_labels": errors[c]}


def ranking_review(cfg: Config, rank_path: Path, intra_path: Path, pairs_dir: Path, people_dir: Path,
                   pairs_truth: Path, bench_root: Path, features_root: Path, encoder_features: Path,
                   truth_root: Path, grids: dict[str, int], plots_dir: Path) -> tuple[dict, dict]:
    """Questions 1 and 2 on every benchmark: pair accuracy by count ratio of SYRAC's head, the
    intra-image baseline's and a head fitted on the untrained encoder; the worst-ordered pairs (drawn
    into ``plots_dir``); edits that remove nobody. Returns the metrics and the worst pairs.

    Every encoder's benchmark features are read, not encoded: SYRAC's from ``features_root``
    (``extract_features``), the baseline's and the untrained encoder's from ``encoder_features``
    (the ablation's, ``syrac.studies.table3``)."""
    size, device = cfg.model.input_size, compute_device()
    syrac = to_device(load_rank_model(rank_path)[0], device)
    untrained = to_device(initial_model(cfg), device)
    train, held = split_holdout(load_pairs(pairs_dir, size), cfg.pretrain.holdout_fraction, cfg.seed)
    fitted, fitted_accuracy = untrained_head(cfg, untrained, train, people_dir)
    intra_head = rank_head_weights(read_model_file(intra_path)["state_dict"])
    heads = {"synthetic_rank": (features_root, rank_head_weights(syrac.state_dict())),
             "intra_image_rank": (encoder_features / "intra_image_rank", intra_head),
             f"{init_strategy(cfg)}_fitted_head": (encoder_features / init_strategy(cfg), fitted)}
    results = {"untrained_head_train_ranking_accuracy": fitted_accuracy, "pair_accuracy": {}, "no_removal_edits": {}}
    worst = {}
    for name in cfg.benchmarks:
        k, (names, paths) = grids[name], read_manifest(bench_root / name)
        truth = true_counts(truth_root / name, names)
        proxies = {strategy: head_proxies(*head, load_features(root / f"{name}.npz")[1][f"k{k}"])
                   for strategy, (root, head) in heads.items()}
        results["pair_accuracy"][name] = {s: pair_accuracy_by_ratio(p, truth) for s, p in proxies.items()}
        worst[name] = worst_pairs(proxies["synthetic_rank"], truth, names, cfg.review.worst_pairs)
        image_grid(plots_dir / f"worst_pairs_{name}.png",
                   [(read_image(paths[names.index(pair[side])]),
                     f"{pair[side]}: {pair[side + '_count']:.0f} people, proxy {pair[side + '_proxy']:.1f}")
                    for pair in worst[name][:3] for side in ("more", "fewer")]
                   or [(read_image(paths[0]), "no pair is misordered")],
                   f"{name}: worst-ordered pairs by SYRAC's rank head (the left of each pair has more people)")

        edits = photo_edit_proxies(cfg, name, paths, syrac, k)
        gaps = {"photometric_no_removal": edit_gap(edits["source"], edits["photometric"])}
        if name in cfg.simulated_benchmarks:
            scenes = sim_edit_proxies(cfg, name, syrac, k)
            gaps["scene_no_removal"] = edit_gap(scenes["source"], scenes["no_removal"])
            gaps["scene_removal"] = {**edit_gap(scenes["source"], scenes["removal"]),
                                     "removed_share": float(scenes["removed_share"].mean())}
        results["no_removal_edits"][name] = gaps
        print(name, {s: round(r["all"]["accuracy"], 3) for s, r in results["pair_accuracy"][name].items()}, gaps)
    counts = pair_image_counts(pairs_dir, pairs_truth)
    if counts is not None:
        results["held_out_pairs"] = held_out_accuracies(syrac, held, counts)
        print("held-out synthetic pairs:", results["held_out_pairs"])
    return results, worst
