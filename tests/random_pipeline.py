"""A Stable Diffusion pipeline with random weights, built offline from configuration dicts.

For the offline tests (a few channels wide) and the generation-cost benchmark, which imports it from
here (SD 2.1's published configuration in perf/sd21/: speed does not depend on weight values). The tokenizer is CLIP's
byte-level BPE with the 256 byte symbols (with and without the end-of-word mark) and no merges, so
it tokenises any prompt, character by character, without downloading a vocabulary.
"""

from __future__ import annotations

import torch


def byte_level_clip_tokenizer():
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(tokens)}, merges=[], model_max_length=77)


def build(unet: dict, vae: dict, text_encoder: dict, scheduler: dict, seed: int = 0):
    """A StableDiffusionPipeline (no safety checker) whose modules follow the given configurations."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tokenizer = byte_level_clip_tokenizer()
    ids = tokenizer.get_vocab()
    text_config = {**text_encoder, "vocab_size": max(text_encoder.get("vocab_size", 0), len(ids)),
                   "bos_token_id": ids["<|startoftext|>"], "eos_token_id": ids["<|endoftext|>"],
                   "pad_token_id": ids["<|endoftext|>"]}
    clean = {k: v for k, v in text_config.items() if k not in ("architectures", "model_type")}
    return StableDiffusionPipeline(
        vae=AutoencoderKL.from_config(vae), text_encoder=CLIPTextModel(CLIPTextConfig(**clean)), tokenizer=tokenizer,
        unet=UNet2DConditionModel.from_config(unet), scheduler=DDIMScheduler.from_config(scheduler),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
