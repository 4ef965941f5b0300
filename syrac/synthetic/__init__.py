"""Synthetic training data: the embedded crowd world, Stable Diffusion, and the generation stages' engine."""
