"""The counting network: encoder -> ReLU features -> non-negative linear rank head.

The same encoder later feeds a linear probe (``syrac.method.probe``); ``syrac.method.counter`` bundles
encoder, rank head, probe and preprocessing into one file that ``syrac count`` can load alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from syrac.config import BACKBONES, Model
from syrac.errors import MissingWeightsError, NotAModelError
from syrac.method import lite0
from syrac.storage import write_bytes

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_weights(backbone: str):
    """The ImageNet weights of ``backbone``, if they are on this machine: for EfficientNet-Lite0 the
    file its registry package ships (its path), for torchvision models their local cache (the enum).

    torchvision would try to download them; on an offline machine that fails deep inside urllib,
    so look first and say exactly what to fetch and where to put it.
    """
    if backbone == "efficientnet_lite0":
        return lite0.weights_path()
    weights = torchvision.models.get_model_weights(backbone).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if not cached.is_file():
        raise MissingWeightsError(
            f"ImageNet weights for {backbone} are not in the local torch cache ({cached}). On a machine "
            f"with internet run: python -c \"import torchvision; torchvision.models.get_model('{backbone}', "
            f"weights='{weights}')\" and copy {weights.url.rsplit('/', 1)[-1]} to {cached.parent} "
            "(or set TORCH_HOME), set model.backbone: efficientnet_lite0 (ImageNet weights installed with "
            "the package), or set model.pretrained: none in params.yaml."
        )
    return weights


def classifier(backbone: str, pretrained: str) -> nn.Module:
    """The ImageNet classifier ``backbone``, random or with its ImageNet weights."""
    if backbone == "efficientnet_lite0":
        return lite0.imagenet_lite0() if pretrained == "imagenet" else lite0.EfficientNetLite0()
    weights = imagenet_weights(backbone) if pretrained == "imagenet" else None
    return torchvision.models.get_model(backbone, weights=weights)


def build_encoder(backbone: str, pretrained: str) -> tuple[nn.Module, int]:
    """The classifier with its last layer removed; returns it and its feature size."""
    network = classifier(backbone, pretrained)
    if hasattr(network, "fc"):  # ResNets, EfficientNet-Lite0
        network.fc = nn.Identity()
    else:  # MobileNets: keep features + global pooling
        network.classifier = nn.Identity()
    network.eval()
    with torch.no_grad():
        dim = network(torch.zeros(1, 3, 64, 64)).shape[1]
    return network.train(), int(dim)


def encoder_stages(encoder: nn.Module) -> list[nn.Module]:
    """The encoder's stages, input to output: what ``pretrain.frozen_stages`` counts."""
    if isinstance(encoder, lite0.EfficientNetLite0):
        return encoder.stages()
    if isinstance(encoder, torchvision.models.ResNet):
        return [
            nn.ModuleList([encoder.conv1, encoder.bn1]),
            encoder.layer1,
            encoder.layer2,
            encoder.layer3,
            encoder.layer4,
        ]
    return list(encoder.features)  # MobileNetV3: stem, inverted-residual blocks, last 1x1 convolution


class NonNegativeLinear(nn.Module):
    """A linear layer whose weights stay >= 0 (the paper's rank-head constraint).

    With ReLU features and non-negative weights, the proxy count can only grow with a feature:
    the head cannot lower the count of an image by weighting irrelevant features negatively.
    ``clamp_`` projects the weights back after every optimiser step (see ``attach``).
    """

    def __init__(self, in_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(1, in_features) / in_features)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.linear(features, self.weight, self.bias).squeeze(-1)

    @torch.no_grad()
    def clamp_(self) -> None:
        self.weight.clamp_(min=0.0)

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Enforce the constraint after each step of ``optimizer``, whoever calls it."""
        optimizer.register_step_post_hook(lambda *_: self.clamp_())


class RankCounter(nn.Module):
    """Siamese branch: both images of a pair go through this same module."""

    def __init__(self, encoder: nn.Module, feature_dim: int, precision: str = "auto"):
        super().__init__()
        self.encoder = encoder
        self.feature_dim = feature_dim
        self.precision = precision  # params model.precision; saved with the weights, used wherever they run
        self.head = NonNegativeLinear(feature_dim)
        self.frozen_stages = 0

    def freeze_stages(self, count: int) -> None:
        """Keep the first ``count`` encoder stages as initialised (no gradient, batch-norm statistics
        fixed): the low-level filters ImageNet taught stay, and training skips their backward pass."""
        self.frozen_stages = count
        for stage in encoder_stages(self.encoder)[:count]:
            stage.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> "RankCounter":
        super().train(mode)
        if self.frozen_stages:  # any encoder works unfrozen, a test's stand-in included
            for stage in encoder_stages(self.encoder)[:self.frozen_stages]:
                stage.eval()
        return self

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return F.relu(self.encoder(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))

    def uses_bf16(self, device: torch.device | None = None) -> bool:
        """Whether it computes in bf16 on ``device`` (default: its current one): ``precision`` allows
        it and bf16 is native there."""
        return self.precision == "auto" and native_bf16(device or next(self.parameters()).device)

    def autocast(self):
        """bf16 autocast where ``uses_bf16`` (bf16 needs no loss scaling); a no-op otherwise."""
        if self.uses_bf16():
            return torch.autocast(next(self.parameters()).device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def new_model(settings: Model) -> RankCounter:
    """A fresh network as params ``model`` describe it (random or ImageNet-initialised encoder)."""
    return RankCounter(*build_encoder(settings.backbone, settings.pretrained), settings.precision)


def compute_device() -> torch.device:
    """The GPU when there is one: the paper's setting (ResNet-50 at 640x853) is not for CPUs."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether the hardware multiplies bf16 natively: any CUDA GPU, or a CPU with AVX512-BF16
    instructions (Intel Cooper Lake and later, AMX ones included; AMD Zen 4 and later). On such CPUs
    oneDNN's bf16 convolutions train a ResNet-50 2 to 2.5 times as fast as fp32 (perf/RESULTS.md).
    Elsewhere bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return True
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private, hence the guard
    return device.type == "cpu" and avx512_bf16 is not None and avx512_bf16()


def _cpu_fields() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (Linux), or none elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    fields = {}
    for line in cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_family(fields: dict[str, str]) -> str:
    """The CPU's family, which decides its bf16 kernels (and so the bytes of trained weights): for
    AMD, Zen 4 and Zen 5 both call themselves "AMD EPYC" and differ only here (family 25 with
    AVX-512 is Zen 4, family 26 Zen 5)."""
    family, model, flags = fields.get("cpu family", "?"), fields.get("model", "?"), fields.get("flags", "").split()
    named = {"25": "Zen 4" if "avx512f" in flags else "Zen 3", "26": "Zen 5"}.get(family) \
        if fields.get("vendor_id") == "AuthenticAMD" else None
    extras = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags]
    described = f"{named + ', ' if named else ''}family {family} model {model}"
    return described + (f" ({', '.join(extras)})" if extras else "")


def machine() -> dict:
    """What a run trained or was timed on, recorded beside its metrics: weights, and so every metric,
    repeat byte for byte only on the same CPU family, core count, PyTorch build and thread count
    (bf16 kernels differ between CPU families)."""
    fields = _cpu_fields()
    device = compute_device()
    return {
        "cpu": fields.get("model name") or platform.processor() or platform.machine(),
        "cpu_family": cpu_family(fields),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "native_bf16": native_bf16(device),
    }


def to_device(model: RankCounter, device: torch.device) -> RankCounter:
    """channels_last where the model will compute in bf16 there (``model.precision`` auto on native
    bf16): cuDNN's and oneDNN's bf16 convolutions run faster in it. fp32 keeps the default layout."""
    layout = torch.channels_last if model.uses_bf16(device) else torch.contiguous_format
    return model.to(device, memory_format=layout)


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Indices 0..n-1 in a random order, in batches of ``batch_size`` for one training epoch; a last
    batch of one joins the batch before it, since batch norm cannot train on a single image."""
    batches = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, n: int, batch_size: int,
                generator: torch.Generator, desc: str,
                batch_loss: Callable[[torch.Tensor], tuple[torch.Tensor, int]]) -> tuple[float, float]:
    """One epoch of any of the project's trainings (rank pre-training, the rotation pretext, the
    end-to-end regression): ``n`` examples in seeded random batches; ``batch_loss(indices)`` returns
    the batch's mean loss and how many of its examples the model got right. Returns the epoch's mean
    loss and share right, both per example."""
    model.train()
    total, right = 0.0, 0
    for batch in tqdm(shuffled_batches(n, batch_size, generator), desc=desc, unit="batch"):
        loss, hits = batch_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
        right += hits
    return total / n, right / n


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] float NCHW -> ImageNet-normalised float."""
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def to_batch(arrays: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 arrays -> NCHW uint8 tensor."""
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def save_torch(obj: dict, path: str | Path) -> None:
    """torch.save through memory: the archive inside is named after the file it is written to, so
    saving straight to a temporary name would make two identical runs differ byte for byte."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())


def save_rank_model(path: str | Path, model: RankCounter, backbone: str, input_size, extra: dict) -> None:
    save_torch({"backbone": backbone, "input_size": list(input_size), "feature_dim": model.feature_dim,
                "precision": model.precision, "state_dict": model.state_dict(), **extra}, path)


MODEL_KEYS = ("backbone", "input_size", "feature_dim", "precision", "state_dict")


def read_model_file(path: str | Path) -> dict:
    """A syrac model file's contents, or one line saying what the file is not. ``torch.load`` fails
    on a foreign file in many ways (unpickling, zip, EOF, unsafe globals), none of which tells a user
    what to pass instead."""
    what = f"{path}: not a syrac model file"
    hint = "pass a counter that `dvc repro` writes (models/syrac.pt)"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # every way a foreign file fails to load means the same here
        raise NotAModelError(f"{what}: PyTorch cannot read it (an image, a truncated copy, another format?); "
                             f"{hint}") from None
    missing = [key for key in MODEL_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise NotAModelError(f"{what}: it lacks {', '.join(missing)} (another project's weights?); {hint}")
    if checkpoint["backbone"] not in BACKBONES:
        raise NotAModelError(f"{what}: unknown backbone {checkpoint['backbone']!r}; {hint}")
    return checkpoint


def load_rank_model(path: str | Path) -> tuple[RankCounter, dict]:
    """Rebuild the network from a checkpoint (no download: weights come from the file)."""
    checkpoint = read_model_file(path)
    encoder, dim = build_encoder(checkpoint["backbone"], "none")
    model = RankCounter(encoder, dim, checkpoint["precision"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:  # same keys, other shapes: another network saved in syrac's format
        raise NotAModelError(f"{path}: not a syrac model file: its weights do not fit a {checkpoint['backbone']} "
                             f"({type(error).__name__})") from None
    return model.eval(), checkpoint
