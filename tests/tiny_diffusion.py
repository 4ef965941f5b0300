"""A tiny, randomly initialised Stable Diffusion pipeline, saved offline for the diffusers-backend tests.

Same classes as SD 2.1 (UNet2DConditionModel, AutoencoderKL, CLIP text encoder and tokenizer, DDIM),
a few channels wide.
"""

from pathlib import Path

import random_pipeline

UNET = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": [8, 16],
    "norm_num_groups": 4,
    "cross_attention_dim": 16,
    "attention_head_dim": 2,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
}
VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [8, 16], "norm_num_groups": 4,
       "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2}
TEXT = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 2,
        "max_position_embeddings": 77}
SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "clip_sample": False,
             "set_alpha_to_one": False, "steps_offset": 1}


def build(folder: Path) -> Path:
    random_pipeline.build(UNET, VAE, TEXT, SCHEDULER).save_pretrained(folder / "pipeline")
    return folder / "pipeline"
