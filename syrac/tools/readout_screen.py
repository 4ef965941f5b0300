"""Read-out levers screened on a finished run's frozen features, no stage rerun (issue 44's items 1 and 4 at
the probe, and item 6).

    python -m syrac.tools.readout_screen --out screen_seed0.json          # in a workspace after dvc repro
    python -m syrac.tools.readout_screen --combine screen_seed*.json --out metrics/real/levers/<name>.json

Each variant refits the probe as stage ``probe`` does (``probe.form`` and ``probe.labels`` of params.yaml,
its tiling rule at the new probe's ceiling) and reads every benchmark's cached features, test split and
development part, as stage ``evaluate`` does:

- ``counter``: the probe unchanged, which reproduces ``metrics/eval.json`` (the reference, and the check
  that the workspace's features are the run's).
- ``mosaics_M``: the counting set with M 2x2 mosaics of its own images, each four drawn at random at
  half their size (``syrac.method.scale.mosaics``, the zoom-out view the scale relations train on), labelled
  with the sum of the four's labels. The sum is exact for the noisy labels too, so the probe sees crowds
  of four times the prompts' people at half their size, without a generator or a count label: the
  zoom-out relation given to the read-out instead of the encoder.
- ``removals_W`` (with ``--removals``, needing the detector's boxes of stage cut_out_people): the counting
  set and, beside it, the unlabelled training photos (``pretrain.unlabelled_photos``, less their development
  part) in which the SSD detector is sure of someone, each against its copy with every such person inpainted
  (the ellipses of rank pre-training's removal edit, ``person_ellipses``). The photo should read as many
  people more as were removed, whatever the bias: a count fixed on photographs, where people are large
  enough to detect, with no label (an ellipse can hide someone behind, so it is a lower bound). The probe
  is ridge with those differences as rows more, of total weight W against the counting set's
  (``syrac.method.readouts.ridge.Anchors``); ``removals_rescale`` is the counter's probe times the one factor
  that best reads the differences, the unit those photos alone would set.
- ``standardised_scale`` / ``standardised_full``: each domain's features divided by their spread over
  that domain (renders: the counting set; photos: every cell of the photo benchmarks' development parts at
  the tiling's grids, images only), and with ``full`` centred on its mean too (CORAL's diagonal). Centring
  forces the photos' mean reading to the renders' (target shift); dividing alone keeps a feature's zero,
  the reading of a region where it does not fire, so no mean is forced on the photos (each feature's
  reading is still rescaled by the ratio of the two domains' spreads).

No label reaches a variant: the benchmarks' true counts only score them. The one exception is asked for
by name and is no lever: ``--oracle`` adds ``oracle_joint``, one ridge probe fitted on the true counts of
every photo benchmark's development part together (each cell at the tiling's grids a row, labelled with
the annotated heads inside it, as Table 3's oracle), and ``oracle_own``, one such probe per benchmark.
Read on the test splits, they say whether the frozen features hold one unit for a sparse street and a
dense crowd: the bound a photographic counting set (the paper's Stable Diffusion images) could reach
through this encoder. ``--combine`` gathers several seeds' files into the shape of a ``syrac.tools.seeds``
summary (the counter's reading per benchmark, every variant under ``readouts``), which
``syrac.tools.report --block scale`` tables.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np

from syrac import config, storage
from syrac.data.benchmarks import DEVELOPMENT_MANIFEST, read_manifest
from syrac.data.boxes import PHOTO_BOXES, photo_boxes
from syrac.data.datasets import unlabelled_photos
from syrac.inference.evaluation import load_features, patch_true_counts, read_split
from syrac.inference.tiling import TilingRule, ceiling_of, configured_rule
from syrac.method.counter import probe_from_bundle
from syrac.method.features import encode, load_resized
from syrac.method.model import load_rank_model, machine, read_model_file
from syrac.method.pretrain import inpainted, person_ellipses
from syrac.method.probe import LinearProbe, probe_targets, rank_head_weights
from syrac.method.readouts import fit_probe
from syrac.method.readouts.ridge import Anchors, fit_ridge
from syrac.method.scale import mosaics, whole_views
from syrac.synthetic.counting import prompted_for
from syrac.tools.seeds import split_spread

SPLITS = {"test": ("data/features/benchmarks", "data/ground_truth/benchmarks"),
          "development": ("data/features/development", "data/ground_truth/benchmarks_train")}


def counting_mosaics(model, paths: list[Path], targets: np.ndarray, count: int, seed: int,
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of ``count`` 2x2 mosaics of the counting images ``paths`` (labels ``targets``):
    four images drawn without replacement for each, laid out 2x2 at the input size; the label their sum."""
    if count == 0:
        return np.zeros((0, model.feature_dim), dtype=np.float32), np.zeros(0)
    picks = np.stack([np.random.default_rng([seed, i]).choice(len(paths), 4, replace=False) for i in range(count)])
    views = load_resized(paths, size, "counting images")
    laid_out = whole_views(mosaics(views[picks.ravel()]), size).round().clamp(0, 255).byte()
    return encode(model, list(laid_out.permute(0, 2, 3, 1).numpy())), targets[picks].sum(axis=1)


def removal_differences(model, root: Path, cfg, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features of each unlabelled training photo with someone the detector is sure of, less its copy with
    every such person inpainted; how many each copy lost; and the photos' names."""
    paths, people_dir = unlabelled_photos(cfg.pretrain.unlabelled_photos), root / "data/people"
    boxes = photo_boxes(people_dir, paths, size)
    kept = [i for i, found in enumerate(boxes) if len(found)]
    if not kept:
        raise ValueError(f"{people_dir / PHOTO_BOXES}: the detector is sure of no one in the "
                         "unlabelled photos; --removals needs people to remove (dvc repro cut_out_people)")
    photos = list(load_resized([paths[i] for i in kept], size, "photos").permute(0, 2, 3, 1).numpy())
    copies = [inpainted(photo, person_ellipses(photo.shape[:2], boxes[i])) for photo, i in zip(photos, kept)]
    return (encode(model, photos) - encode(model, copies), np.array([len(boxes[i]) for i in kept], dtype=float),
            [str(paths[i]) for i in kept])


def photo_cells(root: Path, names: list[str], grids: tuple[int, ...]) -> np.ndarray:
    """Every cell of the named benchmarks' development parts at ``grids``, as rows of features."""
    rows = []
    for name in names:
        with np.load(root / SPLITS["development"][0] / f"{name}.npz") as data:
            rows += [data[f"k{k}"].reshape(-1, data[f"k{k}"].shape[-1]) for k in grids]
    return np.concatenate(rows)


def oracle_cells(root: Path, name: str, grids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Labelled, for the bound only: every cell of benchmark ``name``'s development part at ``grids`` as a
    row of features, and the annotated heads inside each, as Table 3's oracle reads its training patches."""
    features_dir, truth_dir = (root / folder for folder in SPLITS["development"])
    images, features = load_features(features_dir / f"{name}.npz")
    listed = dict(zip(*read_manifest(root / "data/benchmarks_train" / name, DEVELOPMENT_MANIFEST)))
    paths = [root / listed[image] for image in images]
    rows = [features[f"k{k}"].reshape(-1, features[f"k{k}"].shape[-1]) for k in grids]
    heads = [patch_true_counts(truth_dir / name, images, paths, k).ravel() for k in grids]
    return np.concatenate(rows), np.concatenate(heads)


def oracle_probe(cells: list[tuple[np.ndarray, np.ndarray]], cfg) -> LinearProbe:
    """A bound and never a lever: ridge fitted on the cells and heads of one or more benchmarks
    (``oracle_cells``) together, its penalty cross-validated on those heads."""
    rows, heads = (np.concatenate(part) for part in zip(*cells))
    return fit_probe(rows, heads, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, "ridge")[0]


def standardised(probe: LinearProbe, centre: np.ndarray | None, spread: np.ndarray) -> LinearProbe:
    """A probe fitted on (x - centre) / spread, as a probe of x itself."""
    weight = probe.weight / spread
    return LinearProbe(weight, probe.bias - (0.0 if centre is None else float(centre @ weight)))


def read_benchmarks(root: Path, cfg, patches: dict[str, int], probes: dict[str, LinearProbe],
                    rule: TilingRule) -> dict:
    """{split: {benchmark: summary as evaluate writes it}}, at each benchmark's K (``patches``) and on each
    image's own tiling, each benchmark read by its own probe where ``probes`` names it, else by its domain's
    (``probes['photos']`` for the photo benchmarks, ``probes['renders']`` for the simulated ones)."""
    readings = {}
    for split, (features, truth) in SPLITS.items():
        readings[split] = {}
        for name, spec in cfg.benchmarks.items():
            probe = probes.get(name) or probes["renders" if spec.format == "embedded" else "photos"]
            reading = read_split(probe, root / features / f"{name}.npz", root / truth / name, patches[name], rule)
            readings[split][name] = reading.summary(rule.grids)
    return readings


def rescaled(probe: LinearProbe, differences: np.ndarray, removed: np.ndarray) -> LinearProbe:
    """``probe`` times the factor whose readings of ``differences`` come closest to ``removed``."""
    read = differences @ probe.weight
    factor = float(read @ removed / (read @ read))
    return LinearProbe(probe.weight * factor, probe.bias * factor)


def anchor_summary(probe: LinearProbe, differences: np.ndarray, removed: np.ndarray, names: list[str]) -> dict:
    """How ``probe`` reads one removed person, the median over photos of the difference read over the people
    removed, per photo source (the folder above ``images``), with the photos and people behind it."""
    per_person = differences @ probe.weight / removed
    sources = np.array([str(Path(name).parent.parent) for name in names])
    return {source: {"photos": int((sources == source).sum()), "people": int(removed[sources == source].sum()),
                     "read_per_person": float(np.median(per_person[sources == source]))}
            for source in sorted(set(sources))}


def screen(root: Path, mosaic_counts: list[int], removal_weights: list[float] = (), oracle: bool = False) -> dict:
    """Every variant's readings of one workspace's benchmarks: {split: {benchmark: {variant: summary}}}."""
    cfg = config.load(root / "params.yaml")
    model, checkpoint = load_rank_model(root / "models/rank.pt")
    size = tuple(checkpoint["input_size"])
    with np.load(root / "data/features/counting.npz") as data:
        features, names = data["features"], [str(n) for n in data["images"]]
    prompted = prompted_for(root / "data/counting/labels.csv", names)
    weight, bias = rank_head_weights(model.state_dict())
    targets = probe_targets(cfg.probe, prompted, features @ weight + bias)

    def fit(x: np.ndarray, y: np.ndarray) -> LinearProbe:
        return fit_probe(x, y, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, cfg.probe.form)[0]

    def rule_of(probe: LinearProbe) -> TilingRule:
        return configured_rule(cfg, ceiling_of(probe, features, prompted))

    bundle = read_model_file(root / "models/syrac.pt")  # the run's counter: its probe and tiling rule, read once
    counter = probe_from_bundle(bundle)
    counter_rule = TilingRule.from_bundle(bundle["tiling"])
    variants = {"counter": ({"renders": counter, "photos": counter}, counter_rule)}
    extra_x, extra_y = counting_mosaics(model, [root / "data/counting" / n for n in names], targets,
                                        max(mosaic_counts, default=0), cfg.seed, size)
    for count in mosaic_counts:
        probe = fit(np.concatenate([features, extra_x[:count]]), np.concatenate([targets, extra_y[:count]]))
        variants[f"mosaics_{count}"] = ({"renders": probe, "photos": probe}, rule_of(probe))
    anchors = {}
    if removal_weights:
        differences, removed, names = removal_differences(model, root, cfg, size)
        alpha = fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, "ridge")[1]["alpha"]
        probes = {"rescale": rescaled(counter, differences, removed)}
        probes |= {f"{weight:g}": fit_ridge(features, targets, alpha, anchors=Anchors(differences, removed, weight))
                   for weight in removal_weights}
        for name, probe in probes.items():
            variants[f"removals_{name}"] = ({"renders": probe, "photos": probe}, rule_of(probe))
        anchors = {name: anchor_summary(probe, differences, removed, names)
                   for name, probe in {"counter": counter, **probes}.items()}
    photos = [name for name, spec in cfg.benchmarks.items() if spec.format != "embedded"]
    if oracle and not photos:
        raise ValueError(f"{root / 'params.yaml'}: --oracle fits on the photo benchmarks' development parts; "
                         "this run has none")
    if photos:
        grids = configured_rule(cfg, 0.0).grids
        cells = photo_cells(root, photos, grids)
        domains = {"renders": features, "photos": cells}
        spreads = {d: x.std(axis=0) + 1e-6 for d, x in domains.items()}
        for centred in (False, True):
            centres = {d: x.mean(axis=0) if centred else None for d, x in domains.items()}
            base = fit((features - (centres["renders"] if centred else 0.0)) / spreads["renders"], targets)
            probes = {d: standardised(base, centres[d], spreads[d]) for d in domains}
            variants[f"standardised_{'full' if centred else 'scale'}"] = (probes, rule_of(probes["renders"]))
        if oracle:  # each benchmark's cells read once, for its own probe and the joint one
            labelled = {name: oracle_cells(root, name, grids) for name in photos}
            joint = oracle_probe(list(labelled.values()), cfg)
            variants["oracle_joint"] = ({"renders": counter, "photos": joint}, counter_rule)
            own = {name: oracle_probe([part], cfg) for name, part in labelled.items()}
            variants["oracle_own"] = ({"renders": counter, "photos": counter, **own}, counter_rule)
    patches = {name: run["patches"] for name, run in storage.read_json(root / "metrics/eval.json").items()}
    readings = {name: read_benchmarks(root, cfg, patches, probes, rule) for name, (probes, rule) in variants.items()}
    return {"seed": cfg.seed, "machine": machine(), "workspace": provenance(root), "removal_anchors": anchors,
            "readouts": {split: {bench: {name: readings[name][split][bench] for name in readings}
                                 for bench in cfg.benchmarks}
                         for split in SPLITS}}


def provenance(root: Path) -> dict:
    """Which run a screen read: the workspace's commit and its rank model's md5 (as ``dvc.lock`` names it)."""
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    digest = hashlib.md5((root / "models/rank.pt").read_bytes()).hexdigest()
    return {"commit": commit.stdout.strip() or None, "rank_model_md5": digest}


def combine(files: list[Path]) -> dict:
    """Several seeds' screens -> a ``syrac.tools.seeds``-shaped summary: per benchmark the counter's reading
    (test, and ``development``), and every variant under ``readouts``, each as every seed, mean and range."""
    runs = {str(run["seed"]): run for run in map(storage.read_json, files)}
    if len(runs) != len(files):
        raise ValueError(f"{', '.join(map(str, files))}: two files of one seed")
    first = next(iter(runs.values()))
    readouts = {split: {bench: {name: split_spread({seed: run["readouts"][split][bench][name]
                                                    for seed, run in runs.items()})
                                for name in variants}
                        for bench, variants in first["readouts"][split].items()}
                for split in SPLITS}
    counter = {bench: {**readouts["test"][bench]["counter"], "development": readouts["development"][bench]["counter"]}
               for bench in readouts["test"]}
    return {**counter, "readouts": readouts, "machine": first["machine"],
            "workspaces": {seed: run["workspace"] for seed, run in runs.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the workspace whose run is screened")
    parser.add_argument("--mosaics", type=int, nargs="*", default=[60, 420],
                        help="numbers of counting-set mosaics, a variant each")
    parser.add_argument("--removals", type=float, nargs="*", default=[],
                        help="weights of the removal differences against the counting set, a variant each")
    parser.add_argument("--oracle", action="store_true",
                        help="add the labelled bounds oracle_joint and oracle_own (probes fitted on the photo "
                             "benchmarks' development parts' true counts): a diagnostic, never a lever")
    parser.add_argument("--combine", type=Path, nargs="+", help="seeds' screen files to summarise, running nothing")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if any(count < 1 for count in args.mosaics):
        parser.error(f"--mosaics: each number at least 1; got {args.mosaics}")
    if any(weight <= 0 for weight in args.removals):
        parser.error(f"--removals: each weight above 0; got {args.removals}")
    try:
        result = combine(args.combine) if args.combine else screen(args.root, args.mosaics, args.removals, args.oracle)
    except (FileNotFoundError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    storage.write_json(args.out, result)
    for bench, variants in result["readouts"]["development"].items():
        tilings = {name: summary["tiling"] for name, summary in variants.items()}
        print(bench, "development part, own tiling, MAE:",
              {name: round(t["mean"]["mae"] if "mean" in t else t["mae"], 1) for name, t in tilings.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
