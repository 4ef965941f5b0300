"""Rank pre-training on synthetic (source, edit) pairs: the paper's step 1.

Loss -log sigmoid(c_source - c_edit) pushes the source's proxy count above its edit's. A share of
the pairs, grouped by source so no source image is on both sides, is held out; the checkpoint kept
is the epoch with the best held-out ranking accuracy or loss (``pretrain.select_on``), and training
stops early once ``pretrain.patience`` epochs pass without a better one. No ground-truth count is
read here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from syrac import storage
from syrac.config import Config
from syrac.data.boxes import photo_boxes
from syrac.data.datasets import unlabelled_photos
from syrac.errors import MissingWeightsError, opencv
from syrac.method.augment import augment
from syrac.method.domain import adapt_batch_norm, rotation_pretext
from syrac.method.envelope import Envelope, fit_envelope
from syrac.method.features import encode, load_resized, resize
from syrac.method.model import (
    RankCounter,
    compute_device,
    new_model,
    normalise,
    save_torch,
    to_batch,
    to_device,
    train_epoch,
)
from syrac.method.scale import relation_loss, relation_views
from syrac.storage import read_image


@dataclass
class PairSet:
    """Pairs as indices into one cache of decoded, resized images (decoded once, not per epoch)."""

    images: torch.Tensor  # N x 3 x H x W uint8
    source: torch.Tensor  # P indices
    edit: torch.Tensor  # P indices
    group: np.ndarray  # P source ids

    def subset(self, mask: np.ndarray) -> "PairSet":
        index = torch.from_numpy(np.flatnonzero(mask))
        return PairSet(self.images, self.source[index], self.edit[index], self.group[mask])

    def __len__(self) -> int:
        return len(self.source)


def load_pairs(pairs_dir: Path, size: tuple[int, int]) -> PairSet:
    rows = storage.read_csv(pairs_dir / "pairs.csv")
    paths = sorted({r["source"] for r in rows} | {r["edit"] for r in rows})
    position = {p: i for i, p in enumerate(paths)}
    images = load_resized([pairs_dir / p for p in paths], size, desc="decode pairs")
    return PairSet(images, torch.tensor([position[r["source"]] for r in rows]),
                   torch.tensor([position[r["edit"]] for r in rows]),
                   np.array([int(r["source_id"]) for r in rows]))


def nested_crop_pairs(paths: list[Path], size: tuple[int, int], crops: int, scale: float, seed: int) -> PairSet:
    """Intra-image ranking pairs (Liu et al. 2018): per image a chain of ``crops`` nested random crops,
    each of ``scale`` times its parent's area; every (parent, crop) is a pair with count(parent) >=
    count(crop), true of any photo without a label or a generator."""
    images, parents, children, groups = [], [], [], []
    side = math.sqrt(scale)
    for group, path in enumerate(tqdm(paths, desc="nested crops", unit="img")):
        image = read_image(path)
        rng = np.random.default_rng([seed, group])
        left, top, width, height = 0.0, 0.0, float(image.width), float(image.height)
        images.append(resize(image, size))
        for _ in range(crops):
            parent = len(images) - 1
            width, height = width * side, height * side
            left += rng.uniform(0, width / side - width)
            top += rng.uniform(0, height / side - height)
            box = tuple(round(v) for v in (left, top, left + width, top + height))
            images.append(resize(image.crop(box), size))
            parents.append(parent)
            children.append(len(images) - 1)
            groups.append(group)
    return PairSet(to_batch(images), torch.tensor(parents), torch.tensor(children), np.array(groups))


REMOVAL_STREAM = 1  # the removal edits' random stream beside the nested crops' ([seed, photo])


def _opencv():
    return opencv(MissingWeightsError, "inpainting the removal copies", "set pretrain.photo_removals: 0")


def removal_mask(shape: tuple[int, int], area: float, rng: np.random.Generator) -> np.ndarray:
    """One to three ellipses of random shape, angle and place covering ``area`` of a (height, width)
    image between them (less where they overlap or leave the frame): uint8, 255 inside."""
    cv2 = _opencv()
    height, width = shape
    mask = np.zeros(shape, np.uint8)
    blobs = int(rng.integers(1, 4))
    for _ in range(blobs):
        semi_axis, stretch = math.sqrt(area * height * width / blobs / math.pi), math.sqrt(rng.uniform(0.5, 2.0))
        axes = (max(1, round(semi_axis * stretch)), max(1, round(semi_axis / stretch)))
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return mask


PERSON_MARGIN = 1.15  # an ellipse a little wider than its box's inscribed one, so no outline of the person is left


def person_ellipses(shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """The mask (uint8, 255 inside) of each person's box (N x 4, left, top, right, bottom in the image's
    pixels) as the ellipse over it, a little wider than the box's inscribed one (``PERSON_MARGIN``)."""
    cv2 = _opencv()
    mask = np.zeros(shape, np.uint8)
    for left, top, right, bottom in boxes:
        centre = (round((left + right) / 2), round((top + bottom) / 2))
        axes = (max(1, round(PERSON_MARGIN * (right - left) / 2)), max(1, round(PERSON_MARGIN * (bottom - top) / 2)))
        cv2.ellipse(mask, centre, axes, 0.0, 0, 360, 255, -1)
    return mask


def people_within(shape: tuple[int, int], boxes: np.ndarray, area: float) -> np.ndarray:
    """The ellipses of ``boxes`` (``person_ellipses``), each taken in turn where it keeps the mask within
    ``area`` of the image and left out where it would not."""
    mask = np.zeros(shape, np.uint8)
    for box in boxes:
        grown = np.maximum(mask, person_ellipses(shape, box[None]))
        if (grown > 0).mean() <= area:
            mask = grown
    return mask


def people_mask(shape: tuple[int, int], boxes: np.ndarray, area: float, rng: np.random.Generator,
                within: bool = False) -> np.ndarray:
    """The removal aimed at people: each detected person (an N x 4 box in the image's pixels) removed
    with probability 1/2 as the ellipse over its box, then random regions (``removal_mask``) up to
    ``area`` where the people removed cover less. Where the detector finds people, what disappears is
    them, not street texture; where it finds few (dense crowds of small heads), the regions hold heads.
    With ``within``, the people drawn are taken in random order only while they fit in ``area``
    (``people_within``): half a street's detected walkers can cover a sixth of it, so without it a copy
    of a sparse street loses more of its photo than a copy of a dense crowd; with it every copy loses
    the same share."""
    chosen = boxes[rng.random(len(boxes)) < 0.5]
    mask = (people_within(shape, chosen[rng.permutation(len(chosen))], area) if within
            else person_ellipses(shape, chosen))
    missing = area - float((mask > 0).mean())
    return np.maximum(mask, removal_mask(shape, missing, rng)) if missing > 0 else mask


def inpainted(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (H x W x 3 uint8) with ``mask``'s pixels filled from their surroundings (OpenCV's Telea)."""
    cv2 = _opencv()
    return cv2.inpaint(np.ascontiguousarray(image), mask, 5, cv2.INPAINT_TELEA)


def with_removals(photos: PairSet, edits: int, area: float, seed: int,
                  people: list[np.ndarray] | None = None, within: bool = False) -> PairSet:
    """The paper's removal edit made without a generator: per photo (the whole image of each group of
    ``nested_crop_pairs``) ``edits`` copies whose random regions (``removal_mask``), or first its
    ``people`` (per photo, their boxes in its pixels: ``people_mask``, ``within`` its share), are inpainted from their
    surroundings (OpenCV's Telea), each paired below the photo. Inpainting can hide people and cannot
    draw any, so count(photo) >= count(edit) for any photo, as for Stable Diffusion's edits: on a
    dense crowd nearly every region holds heads, so the pairs rank crowd texture above its absence on
    the photos themselves, where the simulator's pairs rank only renders."""
    first = np.unique(photos.group, return_index=True)[1]
    copies, sources, groups = [], [], []
    for whole, group in zip(photos.source[first].tolist(), photos.group[first].tolist()):
        rng = np.random.default_rng([seed, group, REMOVAL_STREAM])
        image = np.ascontiguousarray(photos.images[whole].permute(1, 2, 0).numpy())
        for _ in range(edits):
            mask = (removal_mask(image.shape[:2], area, rng) if people is None
                    else people_mask(image.shape[:2], people[group], area, rng, within))
            copies.append(inpainted(image, mask))
            sources.append(whole)
            groups.append(group)
    start = len(photos.images)
    return PairSet(torch.cat([photos.images, to_batch(copies)]), torch.cat([photos.source, torch.tensor(sources)]),
                   torch.cat([photos.edit, torch.arange(start, start + len(copies))]),
                   np.concatenate([photos.group, groups]))


def photo_pairs(cfg: Config, people_dir: Path) -> PairSet | None:
    """Nested-crop pairs of ``pretrain.unlabelled_photos`` (their images only: annotations beside
    them are never opened), with their removal edits where ``pretrain.photo_removals`` asks for them
    (aimed at the people that stage cut_out_people found in ``people_dir`` where
    ``pretrain.photo_removal_aim`` is people); None when no photo is declared."""
    p = cfg.pretrain
    paths = unlabelled_photos(p.unlabelled_photos)
    if not paths:
        return None
    photos = nested_crop_pairs(paths, cfg.model.input_size, p.photo_crops, p.photo_crop_scale, cfg.seed)
    if not p.photo_removals:
        return photos
    people = None
    if p.removes_detected_people:
        people = photo_boxes(people_dir, paths, cfg.model.input_size)
    return with_removals(photos, p.photo_removals, p.photo_removal_area, cfg.seed, people,
                         within=p.photo_removal_aim == "people_within")


@dataclass
class RelationImages:
    """Unlabelled images for the scale relations (``syrac.method.scale``), decoded once at twice the
    input size, so that each of their 2x2 cells is seen at full resolution."""

    images: torch.Tensor  # N x 3 x 2H x 2W uint8
    group: np.ndarray  # N: the pairs' source id, or -1 for an unlabelled photo (never held out)


def relation_images(cfg: Config, pairs_dir: Path) -> RelationImages | None:
    """The pairs' sources (the unlabelled images of the method) and any ``pretrain.unlabelled_photos``,
    or None where ``pretrain.scale_relations`` is 0. Their annotations are never opened."""
    p = cfg.pretrain
    if not p.scale_relations:
        return None
    rows = storage.read_csv(pairs_dir / "pairs.csv")
    sources = dict(sorted({r["source"]: int(r["source_id"]) for r in rows}.items()))
    photos = unlabelled_photos(p.unlabelled_photos)
    height, width = cfg.model.input_size
    images = load_resized(
        [pairs_dir / s for s in sources] + photos, (2 * height, 2 * width), desc="decode relation images"
    )
    return RelationImages(images, np.array(list(sources.values()) + [-1] * len(photos)))


def concat(first: PairSet, second: PairSet) -> PairSet:
    """Both pair sets over one image cache; the second's groups are numbered after the first's."""
    offset = len(first.images)
    return PairSet(torch.cat([first.images, second.images]), torch.cat([first.source, second.source + offset]),
                   torch.cat([first.edit, second.edit + offset]),
                   np.concatenate([first.group, second.group + int(first.group.max()) + 1]))


def split_holdout(pairs: PairSet, fraction: float, seed: int) -> tuple[PairSet, PairSet]:
    """Hold out whole sources (all their edits), so held-out pairs show unseen scenes."""
    groups = np.unique(pairs.group)
    n_held = max(1, int(round(fraction * len(groups))))
    held = np.random.default_rng(seed).permutation(groups)[:n_held]
    is_held = np.isin(pairs.group, held)
    return pairs.subset(~is_held), pairs.subset(is_held)


def rank_loss(c_source: torch.Tensor, c_edit: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(c_source - c_edit), written stably as softplus(c_edit - c_source)."""
    return F.softplus(c_edit - c_source).mean()


def proxy_counts(model: RankCounter, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Proxy counts of a uint8 or [0, 1] batch, on ``device`` in the model's precision."""
    with model.autocast():
        return model(normalise(images.to(device, non_blocking=True))).float()


@torch.no_grad()
def holdout_ranking(model: RankCounter, pairs: PairSet, batch_size: int) -> dict[str, float]:
    """The held-out pairs' ranking accuracy (share of sources scored strictly above their edit; ties
    count as wrong) and ranking loss (the training loss, without augmentation), from one pass."""
    model.eval()
    device = next(model.parameters()).device
    correct, loss = 0, 0.0
    for start in range(0, len(pairs), batch_size):
        s = pairs.source[start:start + batch_size]
        e = pairs.edit[start:start + batch_size]
        scores = proxy_counts(model, pairs.images[torch.cat([s, e])], device).float()
        correct += int((scores[: len(s)] > scores[len(s):]).sum())
        loss += float(rank_loss(scores[: len(s)], scores[len(s):])) * len(s)
    return {"holdout_ranking_accuracy": correct / len(pairs), "holdout_ranking_loss": loss / len(pairs)}


def _better(figures: dict, best: dict, select_on: str) -> bool:
    """Whether an epoch beats the best so far on ``pretrain.select_on``: the held-out ranking accuracy
    (higher) or loss (lower, the authors' released criterion)."""
    if not best:
        return True
    if select_on == "loss":
        return figures["holdout_ranking_loss"] < best["holdout_ranking_loss"]
    return figures["holdout_ranking_accuracy"] > best["holdout_ranking_accuracy"]


def seed_everything(seed: int) -> torch.Generator:
    """Seeds, and bit-exact kernels on CPU. On CUDA a few kernels (pooling backward) have no
    deterministic version: GPU runs are repeatable to float noise, not bit for bit.

    Deterministic mode also fills every new uninitialised tensor with NaN, a debugging aid that
    costs about a tenth of a CPU training step (the stem's large batch-norm and pooling gradients);
    no kernel used here reads uninitialised memory, so it is turned off (same bytes out)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.Generator().manual_seed(seed)


def _fingerprint(cfg: Config, pairs: PairSet) -> str:
    """What a checkpoint was trained on; a checkpoint of other params or other pairs is not resumed."""
    digest = hashlib.sha256(json.dumps([cfg.seed, asdict(cfg.model), asdict(cfg.pretrain)], default=str).encode())
    for tensor in (pairs.images, pairs.source, pairs.edit):
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _used(pairs: PairSet) -> torch.Tensor:
    """Indices of the cached images that ``pairs`` refer to (the cache also holds held-out ones)."""
    return torch.unique(torch.cat([pairs.source, pairs.edit]))


def step_inputs(train: PairSet, batch: torch.Tensor, p, generator: torch.Generator, device: torch.device,
                relations: RelationImages | None = None) -> tuple[torch.Tensor, int]:
    """Everything a rank step does before the network: the batch's sources, then their edits, gathered
    from the decoded cache, copied to the device as uint8 and augmented there; with ``relations``,
    then the relation views (``syrac.method.scale``) of ``pretrain.scale_images`` of them drawn at
    random. Returns the network's input and how many relation images it holds (0 without).

    Its own function so that ``perf/run.py`` can time it beside the whole step: the step's data wait."""
    images = train.images[torch.cat([train.source[batch], train.edit[batch]])].to(device, non_blocking=True)
    augmented = augment(images, p.brightness, p.flip, generator, p.augmentations)
    if relations is None:
        return augmented, 0
    drawn = torch.randint(len(relations.images), (p.scale_images,), generator=generator)
    views = relation_views(augment(relations.images[drawn].to(device, non_blocking=True), p.brightness, p.flip,
                                   generator, p.augmentations), tuple(images.shape[-2:]))
    return torch.cat([augmented, views]), len(drawn)


def step_loss(model: RankCounter, inputs: torch.Tensor, pairs: int, drawn: int, p) -> tuple[torch.Tensor, int]:
    """The network's part of a rank step on ``step_inputs``'s batch of ``pairs`` pairs and ``drawn``
    relation images: the loss, with the scale relations' weighted by ``pretrain.scale_relations``, and
    how many pairs it ranked right. The relation views share the pairs' forward pass (one batch, one
    set of batch-norm statistics)."""
    with model.autocast():
        features = model.features(normalise(inputs))
        scores = model.head(features).float()
    source, edit = scores[:pairs], scores[pairs:2 * pairs]
    loss = rank_loss(source, edit)
    if drawn:
        readings = scores if p.scale_target == "head" else features
        loss = loss + p.scale_relations * relation_loss(readings[2 * pairs:], drawn)
    return loss, int((source > edit).sum())


def rank_epoch(model, optimizer, train: PairSet, generator, p, desc: str,
               relations: RelationImages | None = None) -> tuple[float, float]:
    """One pass over the training pairs; returns the mean loss and the share of pairs ranked right
    on the fly (augmented, batch statistics), which costs no extra forward pass.

    Images are decoded once (``PairSet.images``), so a step's data is a gather, a copy and the
    augmentation (``step_inputs``) before the network's part (``step_loss``)."""
    device = next(model.parameters()).device

    def batch_loss(batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        inputs, drawn = step_inputs(train, batch, p, generator, device, relations)
        return step_loss(model, inputs, len(batch), drawn, p)

    return train_epoch(model, optimizer, len(train), p.batch_size, generator, desc, batch_loss)


def pretrain(cfg: Config, pairs: PairSet, log=None, checkpoint: Path | None = None,
             photos: PairSet | None = None, relations: RelationImages | None = None) -> tuple[RankCounter, dict]:
    """Train the Siamese rank network; return the best held-out checkpoint and a summary.

    ``photos`` (nested-crop pairs of unlabelled photos) join the training pairs only: the held-out
    pairs that choose the epoch stay synthetic, as in the paper, so a shortcut the crops might
    offer cannot win model selection.

    ``log(epoch, metrics)`` receives each epoch's figures (the stage passes DVCLive). With
    ``checkpoint``, the full training state is saved after every epoch and a run killed at any
    point resumes from the last finished epoch with the same result as an uninterrupted run; the
    file is removed once training ends.

    ``pretrain.self_supervised_epochs`` and ``pretrain.adapt_bn`` fit the encoder to the unlabelled
    images before and after it (``syrac.method.domain``).
    """
    p = cfg.pretrain
    if p.adapt_bn and photos is None:  # before training, not after it
        raise ValueError("pretrain.adapt_bn needs the unlabelled photos' pairs (pretrain.unlabelled_photos)")
    generator = seed_everything(cfg.seed)
    device = compute_device()
    if device.type == "cuda":  # page-locked: asynchronous host-to-GPU copies
        pairs = replace(pairs, images=pairs.images.pin_memory())
    train, held = split_holdout(pairs, p.holdout_fraction, cfg.seed)
    if relations is not None:
        kept = ~np.isin(relations.group, held.group)
        relations = RelationImages(relations.images[torch.from_numpy(np.flatnonzero(kept))], relations.group[kept])
    if photos is not None:
        train = concat(train, photos)
        if device.type == "cuda":  # the concatenated cache is a new tensor: page-lock it too
            train = replace(train, images=train.images.pin_memory())
    model = to_device(new_model(cfg.model), device)
    model.freeze_stages(p.frozen_stages)
    optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=p.lr)
    model.head.attach(optimizer)
    progress = {"history": [], "best": {}, "best_state": None}

    key = _fingerprint(cfg, train)
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if saved["fingerprint"] == key:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            generator.set_state(saved["generator"])
            progress = saved["progress"]
            print(f"resuming rank pre-training after epoch {len(progress['history'])} from {checkpoint}")
        else:
            print(f"ignoring {checkpoint}: it was trained with other parameters or pairs")
    if not progress["history"] and p.self_supervised_epochs:  # a resumed run starts after this
        progress["self_supervised"] = rotation_pretext(model, train.images[_used(train)], p.self_supervised_epochs,
                                                       p.batch_size, p.lr, generator)
    for epoch, figures in enumerate(progress["history"], start=1):  # replay, so the logs are whole
        if log:
            log(epoch, figures)

    def stopped() -> bool:  # early stopping: ``patience`` epochs since the best, none better
        return bool(p.patience and progress["history"]
                    and len(progress["history"]) - progress["best"]["best_epoch"] >= p.patience)

    for epoch in range(len(progress["history"]) + 1, p.epochs + 1):
        if stopped():
            break
        loss, accuracy = rank_epoch(model, optimizer, train, generator, p, f"epoch {epoch}/{p.epochs}", relations)
        figures = {"train_loss": loss, "train_ranking_accuracy": accuracy,
                   **holdout_ranking(model, held, 2 * p.batch_size)}
        if log:
            log(epoch, figures)
        if _better(figures, progress["best"], p.select_on):
            progress["best"] = {**figures, "best_epoch": epoch}
            progress["best_state"] = copy.deepcopy(model.state_dict())
        progress["history"].append(figures)
        if checkpoint is not None:
            save_torch({"fingerprint": key, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "generator": generator.get_state(), "progress": progress}, checkpoint)

    model.load_state_dict(progress["best_state"])
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    summary = {**progress["best"], "epochs_run": len(progress["history"]), "train_pairs": len(train),
               "holdout_pairs": len(held), "precision": "bf16" if model.uses_bf16() else "fp32"}
    if p.self_supervised_epochs:
        summary["self_supervised"] = progress["self_supervised"][-1]
    if p.adapt_bn:
        adapt_batch_norm(model, photos.images, 2 * p.batch_size)
        after = holdout_ranking(model, held, 2 * p.batch_size)
        summary.update({f"{name}_after_adapt_bn": value for name, value in after.items()})
    return model.cpu().eval(), summary


def training_envelope(model: RankCounter, pairs: PairSet, photos: PairSet | None, seed: int) -> Envelope:
    """The envelope (``syrac.method.envelope``) of every image rank pre-training saw: the pairs' sources and
    edits, held-out ones included, and the photos' crops."""
    images = pairs.images if photos is None else torch.cat([pairs.images, photos.images])
    arrays = images.permute(0, 2, 3, 1).numpy()
    encoder = to_device(copy.deepcopy(model), compute_device())  # the model itself stays as saved
    return fit_envelope(encode(encoder, list(arrays)), arrays, seed)
