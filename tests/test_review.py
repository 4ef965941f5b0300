"""The review studies' computations, each on a hand-made case with a known answer."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from test_ablation import _cfg

from syrac.config import ConfigError
from syrac.method.probe import probe_targets, refine_labels
from syrac.studies import review
from syrac.studies.ablation import train_end_to_end
from syrac.synthetic import sim


def test_pair_accuracy_is_binned_by_the_count_ratio_of_each_pair():
    true = np.array([10.0, 11.0, 30.0, 100.0, 10.0])
    proxy = np.array([1.0, 2.0, 2.0, 0.5, 1.0])
    result = review.pair_accuracy_by_ratio(proxy, true)
    # the 9 pairs of different counts (the two 10s are skipped), by ratio:
    # 1-1.25: 11/10 twice, both right | 2-4: 30/10 twice right, 30/11 a tie, 100/30 wrong
    # >4: 100/10 twice, 100/11 wrong
    assert result["1-1.25"] == {"pairs": 2, "accuracy": 1.0}
    assert result["1.25-2"]["pairs"] == 0 and math.isnan(result["1.25-2"]["accuracy"])
    assert result["2-4"] == {"pairs": 4, "accuracy": pytest.approx((1 + 1 + 0.5 + 0) / 4)}
    assert result[">4"] == {"pairs": 3, "accuracy": 0.0}
    assert result["all"] == {"pairs": 9, "accuracy": pytest.approx(4.5 / 9)}
    assert list(result) == review.ratio_bin_names() + ["all"] == ["1-1.25", "1.25-2", "2-4", ">4", "all"]


def test_an_empty_image_beside_a_crowd_falls_in_the_open_bin():
    result = review.pair_accuracy_by_ratio(np.array([0.0, 5.0]), np.array([0.0, 3.0]))
    assert result[">4"] == {"pairs": 1, "accuracy": 1.0}


def test_the_worst_pairs_are_the_misordered_ones_with_the_largest_ratio():
    names = ["a", "b", "c", "d"]
    true = np.array([100.0, 10.0, 50.0, 12.0])
    proxy = np.array([1.0, 3.0, 5.0, 2.0])  # a is counted lowest though it has the most people
    worst = review.worst_pairs(proxy, true, names, n=2)
    assert [(w["more"], w["fewer"]) for w in worst] == [("a", "b"), ("a", "d")]  # ratios 10 and 8.3
    assert worst[0] == {"more": "a", "more_count": 100.0, "more_proxy": 1.0, "fewer": "b", "fewer_count": 10.0,
                        "fewer_proxy": 3.0}
    assert review.worst_pairs(true, true, names, n=5) == []  # a perfect ordering has no worst pair


def test_a_fitted_rank_head_is_non_negative_and_orders_its_training_pairs():
    rng = np.random.default_rng(0)
    useful = rng.uniform(0, 1, (200, 1))
    noise = rng.uniform(0, 1, (200, 3))
    source = np.hstack([useful + 0.5, noise[:, :1], noise[:, 1:]])
    edit = np.hstack([useful, rng.uniform(0, 1, (200, 3))])
    weight, bias = review.fit_rank_head(source, edit)
    assert (weight >= 0).all() and bias == 0.0
    assert weight[0] > 3 * weight[1:].max()  # the one feature that separates the pairs
    assert ((source - edit) @ weight > 0).mean() > 0.95


def test_head_proxies_sum_the_head_over_the_grid():
    features = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    weight = np.array([1.0, 0.0, 2.0])
    assert review.head_proxies(weight, 1.0, features).tolist() == [
        sum(f[0] + 2 * f[2] + 1 for f in features[0]), sum(f[0] + 2 * f[2] + 1 for f in features[1])]


def test_a_no_removal_twin_keeps_every_person_under_the_same_perturbation():
    rng = np.random.default_rng(3)
    scene = sim.source_scene(rng, sim.SPARSE, 40)
    edited = sim.remove_people(scene, np.random.default_rng(4), 0.45, (0.5, 0.5), 0.5)
    twin = review.no_removal_twin(scene, edited)
    assert edited.count < scene.count == twin.count
    for field in ("texture", "tiles", "ground", "sky", "gain", "blur", "noise", "noise_seed"):
        assert getattr(twin, field) == getattr(edited, field), field
    assert twin.gain != scene.gain and twin.texture != scene.texture
    kept = {(p.x, p.y) for p in edited.people}
    assert [p for p in twin.people if (p.x, p.y) in kept] == list(edited.people)  # as the edit drew them
    assert twin.clutter == scene.clutter  # nothing painted over people who are still there


def test_a_photometric_edit_changes_colours_but_not_the_layout():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8))
    edited = review.photometric_edit(image, np.random.default_rng(1), 0.45)
    assert edited.size == image.size
    a, b = np.asarray(image, float), np.asarray(edited, float)
    assert 0 < np.abs(a - b).mean() < 60
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.5
    again = review.photometric_edit(image, np.random.default_rng(1), 0.45)
    assert np.array_equal(np.asarray(again), np.asarray(edited))


def test_the_edit_gap_is_relative_to_the_source_proxy():
    gap = review.edit_gap(np.array([10.0, 20.0, 30.0, 40.0]), np.array([9.0, 21.0, 27.0, 40.0]))
    assert gap == {"relative_gap": pytest.approx(3 / 4 / 25), "source_above_edit": 0.5, "pairs": 4}


def test_refined_labels_follow_the_rank_within_each_prompt_and_keep_its_mean():
    prompted = np.array([0, 0, 10, 10, 10, 10, 50, 50, 50], dtype=float)
    proxy = np.array([5.0, 1.0, 4.0, 1.0, 3.0, 2.0, 9.0, 7.0, 8.0])
    refined = refine_labels(prompted, proxy, cv=0.4)
    assert refined[:2].tolist() == [0.0, 0.0]
    tens = refined[2:6]
    assert np.argsort(tens).tolist() == np.argsort(proxy[2:6]).tolist()  # ordered like the proxy
    assert tens.mean() == pytest.approx(10) and refined[6:].mean() == pytest.approx(50)
    sigma = math.sqrt(math.log1p(0.4**2))
    assert tens.max() / tens.min() == pytest.approx(math.exp(sigma * 2 * 1.1503494), rel=1e-4)  # z of 7/8 and 1/8
    wider = refine_labels(prompted, proxy, cv=0.8)
    assert np.ptp(wider[2:6]) > np.ptp(tens)


def test_the_count_classifier_reads_the_expected_prompted_count():
    rng = np.random.default_rng(0)
    prompted = np.repeat([0.0, 10.0, 100.0], 30)
    features = rng.normal(0, 0.3, (90, 5)) + np.repeat(np.eye(3, 5) * 4, 30, axis=0)
    classifier, report = review.fit_classifier(features, prompted, [0.01, 1.0], folds=3, seed=0)
    assert report["c"] in (100.0, 1.0)
    patches = np.stack([features[[0, 30]], features[[60, 61]]])  # images of 2 patches each
    counts = classifier.image_counts(patches)
    assert counts == pytest.approx([10.0, 200.0], abs=2.0)
    assert (classifier.patch_counts(features) <= 100.0 + 1e-9).all()  # never above the largest prompt


def test_fine_tuning_starts_from_the_given_network_with_its_head_rescaled():
    cfg = _cfg(pretrain={"lr": 1e-3})
    images = torch.randint(0, 256, (16, 3, 32, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    targets = np.linspace(0, 60, 16)
    scratch, _ = train_end_to_end(cfg, images, targets, epochs=1)
    start, _ = train_end_to_end(cfg, images, targets[::-1].copy(), epochs=1)
    encoder_before = start.encoder.conv1.weight.detach().clone()
    tuned, summary = train_end_to_end(cfg, images, targets, epochs=1, start=start)
    assert not torch.equal(tuned.encoder.conv1.weight, scratch.encoder.conv1.weight)  # not trained from scratch
    assert not torch.equal(tuned.encoder.conv1.weight, encoder_before)  # the encoder is trained too
    assert (tuned.head.weight >= 0).all() and summary["epochs"] == 1


def test_review_parameters_are_validated():
    with pytest.raises(ConfigError, match="probe.refined_label_cv"):
        _cfg(probe={"refined_label_cv": 0})
    with pytest.raises(ConfigError, match="probe.labels.*prompted or rank_refined"):
        _cfg(probe={"labels": "true"})
    with pytest.raises(ConfigError, match="review.worst_pairs"):
        _cfg(review={"worst_pairs": 0})


def test_the_rank_head_probe_calibrates_the_proxy_by_scale_and_offset():
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 1, (60, 3))
    weight = np.array([2.0, 0.0, 1.0])
    counts = 5 * (features @ weight + 0.5) + 3  # the labels are an affine map of the proxy
    probe = review.RankHeadProbe(weight, 0.5, features, counts, [1e-6], folds=3, seed=0)
    assert probe.patch_counts(features) == pytest.approx(counts, rel=1e-3)
    assert probe.image_counts(features.reshape(20, 3, 3)) == pytest.approx(counts.reshape(20, 3).sum(1), rel=1e-3)


def test_the_probe_is_fitted_on_prompted_or_rank_refined_labels():
    prompted = np.array([10.0, 10.0, 10.0, 50.0, 50.0])
    proxy = np.array([3.0, 1.0, 2.0, 0.0, 9.0])
    assert probe_targets(_cfg().probe, prompted, proxy) is prompted  # the default: the paper's labels
    refined = probe_targets(_cfg(probe={"labels": "rank_refined"}).probe, prompted, proxy)
    assert refined.tolist() == refine_labels(prompted, proxy, 0.4).tolist()
    assert refined[0] > refined[2] > refined[1] and refined[4] > refined[3]


def test_held_out_accuracies_rank_sources_and_edits_by_their_true_counts(tmp_path):
    """A network whose proxy count is the image's brightness, on pairs whose brightness follows the count."""
    from syrac import storage
    from syrac.method.model import RankCounter
    from syrac.method.pretrain import PairSet

    rows, counts = [], {}
    for source, n in enumerate([40, 10, 70]):
        counts[f"sources/s{source}.jpg"] = n
        for edit, m in enumerate([n // 2, n]):  # the second edit removed nobody
            counts[f"edits/s{source}_e{edit}.jpg"] = m
            rows.append([f"sources/s{source}.jpg", f"edits/s{source}_e{edit}.jpg", n, m])
    storage.write_csv(tmp_path / "pairs.csv", ["source", "edit", "source_count", "edit_count"], rows)
    known = review.pair_image_counts(tmp_path, tmp_path)
    paths = sorted(counts)
    assert known.tolist() == [counts[p] for p in paths]  # in load_pairs' order: by path

    images = torch.stack([torch.full((3, 8, 8), 130 + counts[p], dtype=torch.uint8) for p in paths])  # above ReLU's 0
    index = {p: i for i, p in enumerate(paths)}
    held = PairSet(images, torch.tensor([index[r[0]] for r in rows]), torch.tensor([index[r[1]] for r in rows]),
                   np.array([0, 0, 1, 1, 2, 2]))
    model = RankCounter(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), 3, precision="fp32")
    with torch.no_grad():
        model.head.weight.fill_(1.0)
    result = review.held_out_accuracies(model, held, known)
    assert result["source_vs_own_edit"] == {"pairs": 3, "accuracy": 1.0}  # only the edits that removed someone
    assert result["source_vs_source"] == {"pairs": 3, "accuracy": 1.0}
    assert result["edit_vs_edit"] == {"pairs": 15, "accuracy": 1.0}  # 6 edits of 6 different counts


def test_pair_image_counts_are_unknown_for_stable_diffusion_edits(tmp_path):
    from syrac import storage

    storage.write_csv(tmp_path / "pairs.csv", ["source", "edit", "source_count", "edit_count"],
                      [["sources/a.jpg", "edits/a_e0.jpg", "", ""]])
    assert review.pair_image_counts(tmp_path, tmp_path) is None
