"""The Stable Diffusion backend: the paper's removal edits and noisy counting set through diffusers.

One text-to-image pipeline is loaded and the image-to-image pipeline shares its weights. Each
image has its own seeded CPU ``torch.Generator``, so its starting noise does not depend on the
device, the batch it lands in, or which process of a multi-GPU run makes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from syrac.config import Generator
from syrac.errors import MissingWeightsError


def _missing(model: str, why: str) -> MissingWeightsError:
    from huggingface_hub import constants

    return MissingWeightsError(
        f"Stable Diffusion weights '{model}' are not available here ({why}). On a machine with internet run: "
        f"hf download {model} --local-dir weights/{model.rsplit('/', 1)[-1]} (huggingface_hub's CLI; "
        f"or let diffusers download it into the cache {constants.HF_HUB_CACHE} by running without "
        f"HF_HUB_OFFLINE=1), copy the folder here and set generator.model: weights/{model.rsplit('/', 1)[-1]} "
        "in params.yaml."
    )


def resolve_model(model: str) -> str:
    """A local pipeline folder for ``model``, or the Hub id when it may still be downloaded.

    Looks before loading: offline, diffusers would fail deep inside huggingface_hub; here the run
    stops at once with what to download and which parameter to set.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    path = Path(model)
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise _missing(model, f"{path} has no model_index.json, so it is not a saved diffusers pipeline")
        return str(path)
    try:
        return snapshot_download(model, local_files_only=True)
    except HFValidationError:
        raise _missing(model, f"{path} is not a folder and not a Hugging Face id") from None
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise _missing(model, "not in the local Hugging Face cache and HF_HUB_OFFLINE is set") from None
        return model


class DiffusionGenerator:
    """SD text-to-image and image-to-image with the paper's prompts and settings (params ``generator``)."""

    def __init__(self, settings: Generator, device: torch.device):
        from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

        self.settings = settings
        dtype = torch.float16 if device.type == "cuda" else torch.float32  # fp16 where it is fast and safe
        source = resolve_model(settings.model)
        try:
            text2image = StableDiffusionPipeline.from_pretrained(source, dtype=dtype, safety_checker=None,
                                                                 requires_safety_checker=False)
        except OSError as error:  # a download that failed half-way, or no network
            raise _missing(settings.model, str(error).splitlines()[0]) from None
        self.text2image = text2image.to(device)
        self.image2image = StableDiffusionImg2ImgPipeline(**self.text2image.components,
                                                          requires_safety_checker=False).to(device)
        for pipe in (self.text2image, self.image2image):
            pipe.set_progress_bar_config(disable=True)  # one bar over images, not one per call
            if settings.attention_slicing:
                pipe.enable_attention_slicing()

    @staticmethod
    def _generators(seeds: list[int]) -> list[torch.Generator]:
        return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]

    @staticmethod
    def _to_uint8(images: np.ndarray) -> list[np.ndarray]:
        return [np.round(image * 255).clip(0, 255).astype(np.uint8) for image in images]

    def remove_people(self, sources: list[np.ndarray], seeds: list[int], strength: float) -> list[np.ndarray]:
        """Image-to-image with the "empty space" prompt: one edit per (source, seed)."""
        s = self.settings
        out = self.image2image(prompt=[s.removal_prompt] * len(sources),
                               negative_prompt=[s.removal_negative_prompt] * len(sources),
                               image=[Image.fromarray(source) for source in sources], strength=strength,
                               guidance_scale=s.guidance_scale, num_inference_steps=s.steps,
                               generator=self._generators(seeds), output_type="np")
        return self._to_uint8(out.images)

    def render(self, prompts: list[str], seeds: list[int]) -> list[np.ndarray]:
        """Text-to-image at ``image_size`` with the counting set's negative prompt."""
        s = self.settings
        height, width = s.image_size
        out = self.text2image(prompt=prompts, negative_prompt=[s.counting_negative_prompt] * len(prompts),
                              height=height, width=width, guidance_scale=s.guidance_scale,
                              num_inference_steps=s.steps, generator=self._generators(seeds), output_type="np")
        return self._to_uint8(out.images)
