"""Rank loss, the non-negative head, patch grids, the ridge probe and parameter validation."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from syrac import config
from syrac.method.augment import augment, blur, rotate_hue, zoom_out
from syrac.method.features import patch_boxes
from syrac.method.model import NonNegativeLinear, RankCounter, build_encoder, encoder_stages
from syrac.method.pretrain import rank_loss
from syrac.method.probe import LinearProbe
from syrac.method.readouts import fit_probe
from syrac.method.readouts.ridge import fit_ridge


def test_rank_loss_is_negative_log_sigmoid_of_the_margin():
    c_source, c_edit = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, 1.0])
    expected = np.mean([-math.log(1 / (1 + math.exp(-m))) for m in (2.0, 0.0, -2.0)])
    assert rank_loss(c_source, c_edit).item() == pytest.approx(expected, rel=1e-6)
    assert rank_loss(torch.tensor([100.0]), torch.tensor([0.0])).item() == pytest.approx(0.0, abs=1e-6)


def test_rank_head_weights_stay_non_negative_under_adversarial_gradients():
    head = NonNegativeLinear(16)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.5)
    head.attach(optimizer)
    for _ in range(20):
        loss = head(torch.rand(8, 16)).sum()  # minimising pushes every weight negative
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert (head.weight >= 0).all()
    assert (head.weight == 0).any()  # the constraint was active, not idle


def test_counter_features_are_relu_and_proxy_grows_with_features():
    encoder, dim = build_encoder("resnet18", "none")
    model = RankCounter(encoder, dim).eval()
    with torch.no_grad():
        features = model.features(torch.randn(2, 3, 64, 64))
        assert dim == 512 and features.shape == (2, 512) and (features >= 0).all()
        assert model.head(features + 1.0).sum() >= model.head(features).sum()


def test_imagenet_weights_missing_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="model.pretrained: none"):
        build_encoder("resnet50", "imagenet")


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_patch_grid_tiles_the_image_exactly(k):
    width, height = 257, 190
    boxes = patch_boxes(width, height, k)
    assert len(boxes) == k * k
    cover = np.zeros((height, width), int)
    for left, top, right, bottom in boxes:
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all()


def test_augment_flips_and_scales_brightness_within_bounds():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = augment(images, 0.2, True, torch.Generator().manual_seed(0))
    base = images.float() / 255
    flipped = (out - base.flip(-1)).abs().amax((1, 2, 3)) < (out - base).abs().amax((1, 2, 3))
    assert 10 < flipped.sum() < 54  # about half flipped
    ratio = out.sum((1, 2, 3)) / torch.where(flipped.view(-1, 1, 1, 1), base.flip(-1), base).sum((1, 2, 3))
    assert ((ratio > 0.79) & (ratio < 1.21)).all()


def test_authors_augmentations_draw_for_each_image_and_repeat_with_the_seed():
    images = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8).expand(32, -1, -1, -1)  # one image 32 times
    out = augment(images, 0.2, True, torch.Generator().manual_seed(0), "authors")
    again = augment(images, 0.2, True, torch.Generator().manual_seed(0), "authors")
    paper = augment(images, 0.2, True, torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and out.min() >= 0 and out.max() <= 1
    assert len({tuple(image.flatten().tolist()) for image in out}) == 32  # no two copies drawn alike
    assert (out - paper).abs().mean() > 0.02  # the authors' set adds to the paper's


def test_zoom_out_shrinks_each_image_onto_black_by_at_most_the_share():
    white = torch.ones(200, 3, 40, 40)
    kept = (zoom_out(white, 0.3, torch.Generator().manual_seed(0)) > 0.5).float().mean((1, 2, 3))
    assert kept.min() >= 0.7**2 - 0.05 and kept.max() <= 1 and kept.mean() < 0.9  # side factor in [0.7, 1]


def test_hue_rotation_keeps_greys_and_luma_and_blur_keeps_flat_images():
    generator = torch.Generator().manual_seed(0)
    grey = torch.full((8, 3, 4, 4), 0.4)
    assert torch.allclose(rotate_hue(grey, 0.075, generator), grey, atol=1e-5)
    colour = torch.rand(8, 3, 4, 4, generator=generator)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    rotated = rotate_hue(colour, 0.075, generator)
    assert torch.allclose((rotated * luma).sum(1), (colour * luma).sum(1), atol=1e-5)
    assert (rotated - colour).abs().amax() > 0.01
    assert torch.allclose(blur(grey, 0.5, 1.0, generator), grey, atol=1e-6)
    stripes = torch.zeros(100, 1, 4, 4)
    stripes[..., ::2] = 1
    blurred = (blur(stripes, 0.5, 0.5, generator) != stripes).flatten(1).any(1)
    assert 30 < blurred.sum() < 70  # about half the images


def test_an_unknown_augmentation_set_is_refused_by_name():
    with open("params.yaml") as handle:
        params = yaml.safe_load(handle)
    params["pretrain"]["augmentations"] = "heavy"
    with pytest.raises(config.ConfigError, match="pretrain.augmentations"):
        config.from_dict(params)


def test_ridge_probe_recovers_a_linear_count_and_sums_clipped_patches():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (300, 10))
    true_w = rng.uniform(0, 5, 10)
    y = x @ true_w + 3 + rng.normal(0, 0.01, 300)
    probe = fit_ridge(x, y, alpha=0.0)
    assert np.allclose(probe.weight, true_w, atol=0.05) and probe.bias == pytest.approx(3, abs=0.05)
    chosen, report = fit_probe(x, y, [0.0, 1.0, 100.0], folds=5, seed=0)
    assert report["alpha"] == 0.0 and report["cv_rmse_noisy_labels"] < 0.05
    manual = LinearProbe(np.array([1.0, -1.0]), 0.0)
    assert manual.image_counts(np.array([[[3.0, 1.0], [1.0, 3.0]]])).tolist() == [2.0]


def test_ridge_without_a_penalty_on_fewer_images_than_features_fits_them_exactly():
    """alpha 0 is plain least squares: with 9 images of 512 features (a tiny counting set) the system is
    singular, and the minimum-norm solution still fits every label."""
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (9, 512)), rng.uniform(0, 50, 9)
    probe = fit_ridge(x, y, alpha=0.0)
    assert np.all(np.isfinite(probe.weight)) and np.allclose(x @ probe.weight + probe.bias, y, atol=1e-3)


def test_the_relative_probe_keeps_the_sparse_end_where_the_ridge_probe_spends_its_fit_on_the_dense_one():
    """A counting set from 0 to 2000 whose one feature grows slower than the count (saturating, as a
    dense crowd's reading does): the ridge probe fits the dense prompts and misses a scene of 5 people
    by a hundred and eighty; weighted 1/N, the relative probe misses the sparse prompts by a fifth of that, and its
    penalty is chosen on the same weighted error. Uniform weights are the ridge probe, bit for bit."""
    from syrac.method.readouts.relative import label_weights

    rng = np.random.default_rng(3)
    prompts = np.repeat([0.0, 1, 5, 10, 50, 100, 200, 500, 1000, 2000], 30)
    x = np.sqrt(prompts)[:, None] + rng.normal(0, 0.05, (len(prompts), 1))
    ridge, _ = fit_probe(x, prompts, [0.0], folds=3, seed=0)
    relative, report = fit_probe(x, prompts, [0.0, 1.0], folds=3, seed=0, form="relative")
    sparse = np.array([[0.0], [np.sqrt(5.0)], [np.sqrt(10.0)]])
    def sparse_error(probe):
        return np.abs(sparse @ probe.weight + probe.bias - [0, 5, 10]).max()

    assert sparse_error(ridge) > 150 and sparse_error(relative) < sparse_error(ridge) / 5
    assert report["form"] == "relative" and report["alpha"] == 0.0  # the weighted error prefers no penalty here
    assert label_weights(np.array([0.0, 1.0, 4.0])).tolist() == [1.0, 1.0, 0.25]
    plain, even = fit_ridge(x, prompts, 0.1), fit_ridge(x, prompts, 0.1, weights=np.full(len(prompts), 3.0))
    assert np.allclose(plain.weight, even.weight) and plain.bias == pytest.approx(even.bias)


def test_the_nonnegative_probe_has_no_intercept_and_no_negative_weight():
    """The authors' read-out: an all-zero feature vector (nobody seen) reads 0, and a feature that
    anti-correlates with the count gets weight 0, not a negative one."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (200, 3))
    y = 4 * x[:, 0] + 2 * x[:, 1] - 1 * x[:, 2] + rng.normal(0, 0.01, 200)
    probe, report = fit_probe(x, y, [0.1, 1.0], folds=4, seed=0, form="nonnegative")
    assert probe.bias == 0.0 and (probe.weight >= 0).all() and probe.weight[2] == 0.0
    assert probe.patch_counts(np.zeros(3)) == 0.0
    assert report["form"] == "nonnegative" and list(report["cv_rmse_by_alpha"]) == ["0.0"]  # no penalty to choose
    ridge, _ = fit_probe(x, y, [0.0], folds=4, seed=0)
    assert ridge.weight[2] < -0.9  # the ridge probe follows the sign


def test_a_new_linear_readout_is_one_file_that_the_check_the_probe_and_the_review_find(tmp_path, monkeypatch):
    """A module in syrac/method/readouts/ defining READOUT is a read-out: probe.form accepts its name,
    fit_probe fits it, stage review_probes reads it (it iterates READOUTS); other names are refused
    by the pre-flight check, naming the key and the read-outs there are."""
    import shutil

    from syrac.method import readouts
    from syrac.tools import check

    package = tmp_path / "readouts"
    shutil.copytree(Path(readouts.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "zero.py").write_text(
        "import numpy as np\n\nfrom syrac.method.probe import LinearProbe\nfrom syrac.method.readouts import "
        "LinearReadout\n\nREADOUT = LinearReadout('zero', 'always zero', lambda x, y, a: LinearProbe("
        "np.zeros(x.shape[1], np.float32), 0.0), penalised=False)\n")
    monkeypatch.setattr(readouts, "__path__", [str(package)])
    monkeypatch.setattr(readouts, "READOUTS", readouts._discover())
    assert list(readouts.READOUTS) == ["ridge", "nonnegative", "relative", "zero"]  # the default first
    probe, report = readouts.fit_probe(np.ones((8, 3)), np.arange(8.0), [1.0], folds=2, seed=0, form="zero")
    assert report["form"] == "zero" and probe.patch_counts(np.ones(3)) == 0.0
    assert readouts.problems("zero") == []
    params = _params()
    params["probe"]["form"] = "lasso"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    found = [p for p in check.problems(str(tmp_path / "params.yaml")) if p.startswith("probe.")]
    assert found == ["probe.form: 'lasso' is no read-out; one of ridge, nonnegative, relative, zero (each a module of "
                     "syrac/method/readouts/)"]


def _params():
    with open("params.yaml") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("section,key,value,message", [
    ("evaluate", "patches", 2, "evaluate.patches = 2 is not allowed: a mapping"),
    ("evaluate", "patches", {"sim_sparse": 0, "sim_dense": 2}, "evaluate.patches.sim_sparse = 0"),
    ("evaluate", "patches", {"sim_sparse": 5, "sim_dense": 2}, "one of evaluate.sweep"),
    ("evaluate", "patches", {"sim_sparse": 1}, "a K for every benchmark; add sim_dense"),
    ("evaluate", "patches", {"sim_sparse": 1, "sim_dense": 2, "ucf": 2}, "evaluate.patches.ucf = 2 .*remove it"),
    ("pairs", "strength", 0.0, "0 < strength <= 1"),
    ("pretrain", "lr", -1e-3, "pretrain.lr"),
    ("pretrain", "unlabelled_photos", [{"format": "flickr", "root": "x"}], r"unlabelled_photos\[0\].format = 'flickr'"),
    ("pretrain", "unlabelled_photos", {"format": "shanghaitech"}, "pretrain.unlabelled_photos .* a list"),
    ("pretrain", "photo_crop_scale", 1.0, "photo_crop_scale = 1.0 is not allowed: in \\(0, 1\\)"),
    ("pretrain", "adapt_bn", True, "adapt_bn = True is not allowed: true only with pretrain.unlabelled_photos"),
    ("pretrain", "self_supervised_epochs", -1, "self_supervised_epochs = -1"),
    ("sources", "person_zoom", [2.0, 1.0], "sources.person_zoom = \\[2.0, 1.0\\] .* low <= high"),
    ("evaluate", "patches", {"sim_sparse": "best", "sim_dense": 2}, "a K with 1 <= K <= 16, or auto"),
    ("model", "backbone", "vgg99", "resnet50"),
    ("model", "pretrained", "yes", "none | imagenet"),
    ("model", "precision", "fp16", "auto | fp32"),
    ("counting", "prompted_counts", [], "counting.prompted_counts"),
    ("pretrain", "epochs", "ten", "an integer"),
    ("pretrain", "unknown_knob", 1, "unknown key"),
])
def test_bad_parameters_name_the_key_and_the_rule(section, key, value, message):
    data = _params()
    data[section][key] = value
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict(data)


def test_default_params_are_valid():
    cfg = config.load("params.yaml")
    assert set(cfg.evaluate.patches.values()) <= set(cfg.evaluate.sweep)
    assert set(cfg.benchmarks) == set(cfg.evaluate.patches) == {"sim_sparse", "sim_dense"}


def test_saved_models_are_byte_identical_for_identical_weights(tmp_path):
    from syrac.method.model import save_rank_model

    torch.manual_seed(0)
    model = RankCounter(*build_encoder("resnet18", "none"))
    save_rank_model(tmp_path / "a.pt", model, "resnet18", (32, 48), {})
    save_rank_model(tmp_path / "b.pt", model, "resnet18", (32, 48), {})
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_the_precision_travels_with_the_model_file_and_fp32_means_no_autocast(tmp_path):
    from syrac.method.features import encode
    from syrac.method.model import load_rank_model, native_bf16, normalise, save_rank_model, to_batch

    torch.manual_seed(0)
    patches = [np.random.default_rng(i).integers(0, 256, (32, 48, 3), dtype=np.uint8) for i in range(3)]
    for precision in ("fp32", "auto"):
        save_rank_model(tmp_path / "m.pt", RankCounter(*build_encoder("resnet18", "none"), precision),
                        "resnet18", (32, 48), {})
        model = load_rank_model(tmp_path / "m.pt")[0]
        assert model.precision == precision
        with torch.no_grad():
            fp32 = torch.relu(model.encoder(normalise(to_batch(patches)))).numpy()
        features = encode(model, patches)
        if precision == "fp32" or not native_bf16(torch.device("cpu")):
            np.testing.assert_array_equal(features, fp32)
        else:  # bf16 arithmetic: close to fp32, not equal
            assert not np.array_equal(features, fp32)
            np.testing.assert_allclose(features, fp32, rtol=0.1, atol=0.05 * np.abs(fp32).max())


def test_encode_sends_cpu_patches_sixteen_a_pass_in_any_precision_and_gpu_ones_sixty_four(monkeypatch):
    from syrac.method import features

    torch.manual_seed(0)
    model = RankCounter(*build_encoder("resnet18", "none"), "fp32").eval()
    patches = [np.random.default_rng(i).integers(0, 256, (32, 48, 3), dtype=np.uint8) for i in range(40)]
    passes = []
    read = model.features
    monkeypatch.setattr(model, "features", lambda batch: passes.append(len(batch)) or read(batch))
    fp32 = features.encode(model, patches)
    assert passes == [16, 16, 8]
    passes.clear()
    np.testing.assert_allclose(features.encode(model, patches, batch_size=40), fp32, rtol=1e-5, atol=1e-6)
    assert passes == [40]
    monkeypatch.setattr(RankCounter, "uses_bf16", lambda self, device=None: True)
    passes.clear()
    features.encode(model, patches[:20])
    assert passes == [16, 4]
    assert features.patches_per_pass(torch.device("cuda")) == 64


def test_every_bad_parameter_is_reported_not_only_the_first():
    data = _params()
    data["pretrain"]["lr"], data["model"]["backbone"], data["umap"]["n_neighbors"] = 0, "vgg99", "many"
    del data["probe"]["folds"]
    with pytest.raises(config.ConfigError) as caught:
        config.from_dict(data)
    assert [p.split(" ")[1] for p in caught.value.problems] == [
        "model.backbone", "pretrain.lr", "probe.folds", "umap.n_neighbors"]


def test_a_stage_with_bad_parameters_exits_with_one_line_each_and_touches_nothing(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    data = _params()
    data["evaluate"]["patches"]["sim_sparse"] = 0
    data["pretrain"]["lr"] = -1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    result = subprocess.run([sys.executable, str(repo / "stages/synthesize_counting.py"), "--out-dir", "out",
                             "--truth-dir", "truth", "--metrics-path", "m.json", "--work-root", "work",
                             "--people-dir", "people"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: pretrain.lr = -1.0 is not allowed: in (0, 1] (Adam's useful rates lie far below 1)",
        "error: params.yaml: evaluate.patches.sim_sparse = 0 is not allowed: 1 <= K <= 16, or auto"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_auto_k_takes_the_coarsest_grid_counted_within_the_label_range():
    from syrac.inference.evaluation import choose_grid

    probe = LinearProbe(np.array([1.0], dtype=np.float32), 0.0)  # the count of a patch is its one feature
    patches = {k: np.full((10, k * k, 1), 400.0 / (k * k)) for k in (1, 2, 3, 4)}  # 400 people, spread evenly
    patches[2][0, 0, 0] = 900.0  # one patch in 40 above the range does not matter at the 90% share
    k, upper = choose_grid(probe, patches, max_label=200)
    assert k == 2 and upper[1] == pytest.approx(400) and upper[2] == pytest.approx(100)
    assert choose_grid(probe, patches, max_label=10)[0] == 4  # nothing fits: the finest grid
    assert choose_grid(probe, patches, max_label=500)[0] == 1


@pytest.mark.parametrize("backbone", config.BACKBONES)
def test_every_backbone_has_the_stages_the_config_counts(backbone):
    encoder, _ = build_encoder(backbone, "none")
    stages = encoder_stages(encoder)
    assert len(stages) == config.ENCODER_STAGES[backbone]
    covered = {id(p) for stage in stages for p in stage.parameters()}
    assert covered == {id(p) for p in encoder.parameters()}  # the stages are the whole encoder


def test_frozen_stages_keep_their_weights_and_batch_norm_statistics_while_the_rest_trains():
    torch.manual_seed(0)
    model = RankCounter(*build_encoder("resnet18", "none"), precision="fp32")
    model.freeze_stages(3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(4, 3, 64, 64)).sum().backward()
        optimizer.step()
    after = model.state_dict()
    frozen = ("encoder.conv1.", "encoder.bn1.", "encoder.layer1.", "encoder.layer2.")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith(frozen) for k in changed)
    assert any(k.startswith("encoder.layer3.") for k in changed) and any(
        k.startswith("encoder.layer4.") for k in changed
    )
    assert any(k.endswith("running_mean") and k.startswith("encoder.layer4.") for k in changed)


def test_frozen_stages_cannot_exceed_the_backbone_s(tmp_path):
    data = _params()
    data["pretrain"]["frozen_stages"] = 6
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(config.ConfigError) as error:
        config.load(tmp_path / "params.yaml")
    assert error.value.problems == [
        "params.yaml: pretrain.frozen_stages = 6 is not allowed: in [0, 5] (resnet18 has 5)"
    ]


def test_the_machine_record_tells_zen_4_from_zen_5_and_names_the_threads():
    from syrac.method.model import cpu_family, machine

    flags = "fpu avx512f avx512_bf16"
    assert cpu_family({"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "17", "flags": flags}) == \
        "Zen 4, family 25 model 17 (avx512_bf16)"
    zen5 = cpu_family({"vendor_id": "AuthenticAMD", "cpu family": "26", "model": "2", "flags": flags})
    assert zen5.startswith("Zen 5")
    assert cpu_family({"vendor_id": "GenuineIntel", "cpu family": "6", "model": "143",
                       "flags": "avx512f avx512_bf16 amx_bf16"}) == "family 6 model 143 (avx512_bf16, amx_bf16)"
    record = machine()
    assert record["threads"] >= 1 and record["cores"] >= 1 and record["torch"]


def test_importing_syrac_keeps_large_blocks_in_the_heap_unless_the_user_chose(monkeypatch):
    import syrac

    calls = []

    class Libc:
        def mallopt(self, parameter, value):
            calls.append((parameter, value))

    monkeypatch.setattr(syrac.ctypes, "CDLL", lambda name: Libc())
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    syrac._keep_large_blocks()
    assert calls == [(syrac.M_MMAP_THRESHOLD, 32 << 20), (syrac.M_TRIM_THRESHOLD, 1 << 30)]
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    syrac._keep_large_blocks()
    assert len(calls) == 2  # the user's own threshold stands
